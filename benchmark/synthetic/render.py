"""Shared rendering machinery for the synthetic animals.

An animal is a list of :class:`Part` objects, each a chain of overlapping discs (a "swept
sphere": head-to-tail spine, a leg, an ear, a cable). Every disc is a dome, so a part has a
height field that gives both its shading (surface normals) and its depth for a per-pixel
z-buffer: whichever part is nearest the camera at a pixel is the one seen there. Because
keypoint visibility is read from the same z-buffer, a label is NaN exactly when the render
hides the point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

# albedo(s, u) -> (P,) or (P, C): s in [0, 1] along the chain, u in [-1, 1] across it.
Albedo = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Part:
    """One body part: a chain of discs with a surface colour.

    Attributes:
        name: Part name (used by keypoints to say which part they sit on).
        centers: ``(m, 2)`` disc centres x, y in image pixels (pixel centres at integers).
        radii: ``(m,)`` disc radii in pixels.
        z: Depth of the chain's axis towards the camera (larger = nearer), scalar or ``(m,)``.
        albedo: A grey level / colour, or a function of (s, u) giving one per pixel.
        z_scale: How much the dome height adds to the depth (0 = flat).
        relief: How strongly the dome shades (0 = flat colour, 1 = round).
        texture: Optional ``(m, 21)`` fur/grain multiplier pattern fixed to the body.
    """

    name: str
    centers: np.ndarray
    radii: np.ndarray
    z: float | np.ndarray
    albedo: float | Sequence[float] | Albedo
    z_scale: float = 1.0
    relief: float = 1.0
    texture: np.ndarray | None = None


@dataclass
class Raster:
    """A part rasterised into its bounding box."""

    x0: int
    y0: int
    cov: np.ndarray  # coverage 0..1
    z: np.ndarray  # depth of the visible surface
    color: np.ndarray  # (h, w, C) shaded colour


@dataclass
class Frame:
    """A rendered frame and what the renderer knows about it."""

    image: np.ndarray  # (H, W, C) float 0..1 before camera effects
    background: np.ndarray  # the same scene without the animal (shadow included)
    rasters: dict[str, Raster] = field(default_factory=dict)
    alpha: np.ndarray | None = None  # animal coverage (H, W)


def resample(points: np.ndarray, step: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """A smooth Catmull-Rom curve through ``points``, sampled every ``step`` px.

    Returns:
        The samples ``(m, 2)`` and their arc length fraction ``(m,)`` in [0, 1].
    """
    p = np.asarray(points, dtype=float)
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    n = max(2, int(np.ceil(np.linalg.norm(np.diff(p, axis=0), axis=1).max() / step)))
    t = np.linspace(0.0, 1.0, n, endpoint=False)[None, :, None]
    p0, p1, p2, p3 = (ext[i : i + len(p) - 1, None, :] for i in range(4))
    curve = 0.5 * (
        2 * p1
        + (-p0 + p2) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
    )
    curve = np.vstack([curve.reshape(-1, 2), p[-1:]])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    return curve, arc / max(arc[-1], 1e-9)


def at_fraction(curve: np.ndarray, frac: np.ndarray, f: float) -> np.ndarray:
    """The point at arc length fraction ``f`` of a resampled curve."""
    return np.array([np.interp(f, frac, curve[:, 0]), np.interp(f, frac, curve[:, 1])])


def fur_texture(rng: np.random.Generator, m: int, streak: float = 3.0) -> np.ndarray:
    """A fixed ``(m, 21)`` noise pattern, streaky along the chain (fur, tail rings, grain)."""
    tex = rng.normal(0.0, 1.0, (m, 21)).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), sigmaX=0.8, sigmaY=streak)
    return tex / (tex.std() + 1e-6)


def _albedo_values(part: Part, s: np.ndarray, u: np.ndarray, channels: int) -> np.ndarray:
    if callable(part.albedo):
        a = np.asarray(part.albedo(s, u), dtype=np.float32)
    else:
        a = np.broadcast_to(np.asarray(part.albedo, dtype=np.float32), (*s.shape, channels))
        return a if a.shape[-1] == channels else np.repeat(a[..., :1], channels, -1)
    if a.ndim == s.ndim:
        a = a[..., None]
    return np.broadcast_to(a, (*s.shape, channels)) if a.shape[-1] != channels else a


def rasterize(
    part: Part, size: tuple[int, int], light: np.ndarray, channels: int, ambient: float = 0.35
) -> Raster | None:
    """Rasterise a part into its bounding box with anti-aliased edges and dome shading.

    Args:
        part: The part.
        size: Image (width, height).
        light: Unit light direction (x, y, z-towards-camera).
        channels: 1 (grey) or 3 (colour).
        ambient: Share of light that reaches surfaces facing away from the light.
    """
    w_img, h_img = size
    if part.relief == 0 and part.z_scale == 0 and not callable(part.albedo):
        return _rasterize_line(part, size, channels)
    c = np.asarray(part.centers, dtype=np.float32)
    r = np.asarray(part.radii, dtype=np.float32)
    m = len(c)
    x0 = max(int(np.floor((c[:, 0] - r).min())) - 1, 0)
    y0 = max(int(np.floor((c[:, 1] - r).min())) - 1, 0)
    x1 = min(int(np.ceil((c[:, 0] + r).max())) + 2, w_img)
    y1 = min(int(np.ceil((c[:, 1] + r).max())) + 2, h_img)
    if x1 <= x0 or y1 <= y0:
        return None
    bw, bh = x1 - x0, y1 - y0
    best = np.full((bh, bw), -1e9, np.float32)  # r^2 - d^2 of the winning disc
    idx = np.zeros((bh, bw), np.int32)
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    chunk = 24  # discs per vectorised block: keeps the blocks' boxes tight on long chains
    for a in range(0, m, chunk):
        cc, rr = c[a : a + chunk], r[a : a + chunk]
        bx0 = max(int(np.floor((cc[:, 0] - rr).min())) - 1 - x0, 0)
        by0 = max(int(np.floor((cc[:, 1] - rr).min())) - 1 - y0, 0)
        bx1 = min(int(np.ceil((cc[:, 0] + rr).max())) + 2 - x0, bw)
        by1 = min(int(np.ceil((cc[:, 1] + rr).max())) + 2 - y0, bh)
        if bx1 <= bx0 or by1 <= by0:
            continue
        dx = xs[None, None, bx0:bx1] - cc[:, 0, None, None]
        dy = ys[None, by0:by1, None] - cc[:, 1, None, None]
        val = rr[:, None, None] ** 2 - dx * dx - dy * dy
        k = val.argmax(axis=0)
        v = np.take_along_axis(val, k[None], 0)[0]
        sub_best = best[by0:by1, bx0:bx1]
        better = v > sub_best
        sub_best[better] = v[better]
        idx[by0:by1, bx0:bx1][better] = (k + a)[better]
    rk = r[idx]
    d = np.sqrt(np.maximum(rk * rk - best, 0.0))
    cov = np.clip(rk - d + 0.5, 0.0, 1.0)
    if not cov.any():
        return None
    height = np.sqrt(np.maximum(best, 0.0))
    # Local tangent of the chain at the winning disc, for the signed across-coordinate u.
    tang = np.gradient(c, axis=0) if m > 1 else np.array([[1.0, 0.0]], np.float32)
    tang = tang / (np.linalg.norm(tang, axis=1, keepdims=True) + 1e-9)
    px = xs[None, :] - c[idx, 0]
    py = ys[:, None] - c[idx, 1]
    u = np.clip((tang[idx, 0] * py - tang[idx, 1] * px) / np.maximum(rk, 1e-3), -1, 1)
    s = idx / max(m - 1, 1)
    albedo = _albedo_values(part, s, u, channels).astype(np.float32)
    if part.texture is not None:
        ti = np.clip(((u + 1) * 10).round().astype(int), 0, 20)
        albedo = albedo * (1.0 + part.texture[idx, ti])[..., None]
    zb = np.asarray(part.z, dtype=np.float32)
    z = (zb[idx] if zb.ndim else zb) + part.z_scale * height
    hy, hx = np.gradient(height * part.relief)
    norm = np.sqrt(hx * hx + hy * hy + 1.0)
    lam = (-hx * light[0] - hy * light[1] + light[2]) / norm
    shade = ambient + (1.0 - ambient) * np.clip(lam, 0.0, 1.0)
    color = albedo * shade[..., None]
    return Raster(x0, y0, cov.astype(np.float32), z.astype(np.float32), color)


def _rasterize_line(part: Part, size: tuple[int, int], channels: int) -> Raster | None:
    """A thin flat part (a cable, a whisker) drawn as an anti-aliased polyline."""
    w_img, h_img = size
    c = np.asarray(part.centers, dtype=np.float64)
    r = float(np.max(part.radii))
    x0 = max(int(np.floor(c[:, 0].min() - r)) - 1, 0)
    y0 = max(int(np.floor(c[:, 1].min() - r)) - 1, 0)
    x1 = min(int(np.ceil(c[:, 0].max() + r)) + 2, w_img)
    y1 = min(int(np.ceil(c[:, 1].max() + r)) + 2, h_img)
    if x1 <= x0 or y1 <= y0:
        return None
    cov = np.zeros((y1 - y0, x1 - x0), np.float32)
    pts = np.round((c - [x0, y0]) * 16).astype(np.int32)
    cv2.polylines(cov, [pts], False, 1.0, max(1, round(2 * r)), cv2.LINE_AA, shift=4)
    if not cov.any():
        return None
    color = np.broadcast_to(np.asarray(part.albedo, np.float32), (*cov.shape, channels))
    z = np.full(cov.shape, float(np.max(part.z)), np.float32)
    return Raster(x0, y0, cov, z, np.ascontiguousarray(color))


def compose(
    background: np.ndarray,
    parts: Sequence[Part],
    light: Sequence[float] = (0.0, 0.0, 1.0),
    ambient: float = 0.35,
    shadow: tuple[float, float, float, float] | None = None,
    motion: tuple[float, float] = (0.0, 0.0),
) -> Frame:
    """Render parts over a background with a z-buffer, soft shadow and motion blur.

    Args:
        background: ``(H, W, C)`` float scene without the animal (unlit albedo).
        parts: The animal's parts (any order; depth decides what is seen).
        light: Light direction (x, y, towards camera).
        ambient: Ambient share of light.
        shadow: ``(dx, dy, blur_sigma, strength)`` of the animal's shadow on the background.
        motion: Motion during the exposure (dx, dy) in px, blurred along that line.
    """
    h_img, w_img, channels = background.shape
    ld = np.asarray(light, dtype=np.float32)
    ld = ld / np.linalg.norm(ld)
    color = np.zeros((h_img, w_img, channels), np.float32)  # premultiplied
    alpha = np.zeros((h_img, w_img), np.float32)
    zbuf = np.full((h_img, w_img), -1e9, np.float32)
    rasters: dict[str, Raster] = {}
    for part in parts:
        ras = rasterize(part, (w_img, h_img), ld, channels, ambient)
        if ras is None:
            continue
        rasters[part.name] = ras
        hh, ww = ras.cov.shape
        sl = (slice(ras.y0, ras.y0 + hh), slice(ras.x0, ras.x0 + ww))
        a_old, c_old, z_old = alpha[sl], color[sl], zbuf[sl]
        cov = ras.cov
        front = (ras.z >= z_old)[..., None]
        over = ras.color * cov[..., None] + c_old * (1 - cov[..., None])
        under = c_old + ras.color * (cov * (1 - a_old))[..., None]
        color[sl] = np.where(front, over, under)
        alpha[sl] = a_old + cov * (1 - a_old)
        zbuf[sl] = np.where(cov > 0.5, np.maximum(z_old, ras.z), z_old)
    bg = background
    if not rasters:
        return Frame(image=background.copy(), background=bg, rasters=rasters, alpha=alpha)
    # Everything below touches only the animal's bounding box (plus blur margins).
    pad = int(np.ceil(np.hypot(*motion))) + 2
    if shadow is not None:
        pad += int(abs(shadow[0]) + abs(shadow[1]) + 3 * shadow[2]) + 1
    bx0 = max(min(r.x0 for r in rasters.values()) - pad, 0)
    by0 = max(min(r.y0 for r in rasters.values()) - pad, 0)
    bx1 = min(max(r.x0 + r.cov.shape[1] for r in rasters.values()) + pad, w_img)
    by1 = min(max(r.y0 + r.cov.shape[0] for r in rasters.values()) + pad, h_img)
    box = (slice(by0, by1), slice(bx0, bx1))
    a_box, c_box = alpha[box], color[box]
    if shadow is not None:
        dx, dy, sigma, strength = shadow
        ix, iy = round(dx), round(dy)
        hb, wb = a_box.shape
        sh = np.zeros_like(a_box)
        sh[iy:, ix:] = a_box[: hb - iy, : wb - ix]
        sh = cv2.GaussianBlur(sh, (0, 0), sigma)
        bg = background.copy()
        bg[box] = background[box] * (1 - strength * sh)[..., None]
    length = float(np.hypot(*motion))
    if length > 0.75:
        k = int(np.ceil(length)) | 1
        kern = np.zeros((k, k), np.float32)
        c0 = k // 2
        ux, uy = motion[0] / length, motion[1] / length
        pts = np.linspace(-length / 2, length / 2, 4 * k)
        rows = (c0 + uy * pts).round().astype(int)
        cols = (c0 + ux * pts).round().astype(int)
        np.add.at(kern, (rows, cols), 1)
        kern /= kern.sum()
        c_box = cv2.filter2D(c_box, -1, kern)
        if c_box.ndim == 2:
            c_box = c_box[..., None]
        a_box = cv2.filter2D(a_box, -1, kern)
        alpha[box] = a_box
    image = bg.copy()
    image[box] = bg[box] * (1 - a_box[..., None]) + c_box
    return Frame(image=image, background=bg, rasters=rasters, alpha=alpha)


def occluded_by(rasters: dict[str, Raster], owner: str, xy: np.ndarray, z_point: float) -> bool:
    """Whether another rasterised part covers ``xy`` nearer the camera than ``z_point``."""
    xi, yi = round(float(xy[0])), round(float(xy[1]))
    own = rasters.get(owner)
    if own is not None:
        i, j = yi - own.y0, xi - own.x0
        if 0 <= i < own.cov.shape[0] and 0 <= j < own.cov.shape[1] and own.cov[i, j] > 0.3:
            z_point = max(z_point, float(own.z[i, j]))
    for name, ras in rasters.items():
        if name == owner:
            continue
        hh, ww = ras.cov.shape
        i, j = yi - ras.y0, xi - ras.x0
        if 0 <= i < hh and 0 <= j < ww and ras.cov[i, j] > 0.5 and ras.z[i, j] > z_point:
            return True
    return False


def inside(xy: np.ndarray, size: tuple[int, int], margin: float = 0.5) -> bool:
    """Whether a point lies in the image (pixel centres 0..W-1, 0..H-1, ``margin`` beyond)."""
    w, h = size
    return bool(-margin <= xy[0] <= w - 1 + margin and -margin <= xy[1] <= h - 1 + margin)


def sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear sample of an ``(H, W, C)`` image at a point."""
    h, w = image.shape[:2]
    x = float(np.clip(xy[0], 0, w - 1.001))
    y = float(np.clip(xy[1], 0, h - 1.001))
    x0, y0 = int(x), int(y)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bot = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float, channels: int = 1
) -> np.ndarray:
    """Gaussian-blurred white noise with unit standard deviation."""
    n = rng.normal(0.0, 1.0, (*shape, channels)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma)
    if n.ndim == 2:
        n = n[..., None]
    return n / (n.std() + 1e-6)


def vignette(size: tuple[int, int], center: tuple[float, float], falloff: float) -> np.ndarray:
    """A radial illumination map: 1 at ``center``, dimmer outwards (``(H, W, 1)``)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - center[0]) ** 2 + (yy - center[1]) ** 2) / float(max(w, h)) ** 2
    return (1.0 / (1.0 + falloff * r2) ** 2)[..., None]


@dataclass
class Camera:
    """One video's camera: turns a scene (albedo x shading) into 8-bit frames.

    Light, defocus, then noise. Shot noise grows with brightness, read noise is constant.
    The noise comes from one ``(2h, 2w, c)`` Gaussian field per video, drawn from ``rng``
    at the first frame and cut at a random offset every frame: much cheaper than fresh
    samples, and it belongs to this camera alone, so equal seeds give equal videos.

    Attributes:
        rng: The video's random generator.
        lighting: Illumination map multiplied into every scene (``(H, W, 1)``).
        noise: Noise scale: its standard deviation is ``noise * (0.5 + 0.7 * brightness)``.
        blur: Defocus blur sigma in pixels (0 = none).
    """

    rng: np.random.Generator
    lighting: np.ndarray
    noise: float
    blur: float = 0.6
    _bank: np.ndarray | None = field(default=None, init=False, repr=False)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Shoot one frame of a scene.

        Returns:
            ``(H, W, 3)`` uint8 RGB (three equal channels for a grey scene).
        """
        img = image * self.lighting
        if self.blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur)
            if img.ndim == 2:
                img = img[..., None]
        h, w, c = img.shape
        if self._bank is None:
            self._bank = self.rng.standard_normal((2 * h, 2 * w, c), dtype=np.float32)
        oy, ox = self.rng.integers(0, h), self.rng.integers(0, w)
        sign = 1.0 if self.rng.random() < 0.5 else -1.0
        img = img + (sign * self.noise) * (0.5 + 0.7 * img) * self._bank[oy : oy + h, ox : ox + w]
        out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if out.shape[-1] == 1:
            out = np.repeat(out, 3, axis=-1)
        return out


def ou_series(
    rng: np.random.Generator, n: int, tau: float, sigma: float, x0: float = 0.0
) -> np.ndarray:
    """An Ornstein-Uhlenbeck series: smooth random wandering around 0 (``tau`` in frames)."""
    out = np.empty(n)
    x = x0
    a = np.exp(-1.0 / tau)
    b = sigma * np.sqrt(1 - a * a)
    for i, e in enumerate(rng.standard_normal(n)):
        x = a * x + b * e
        out[i] = x
    return out


def rot(v: np.ndarray, angle: float) -> np.ndarray:
    """Rotate 2-D vector(s) by ``angle`` radians (image coordinates, y down)."""
    c, s = np.cos(angle), np.sin(angle)
    v = np.asarray(v, dtype=float)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def unit(angle: float | np.ndarray) -> np.ndarray:
    """Unit vector(s) pointing at ``angle``."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)
