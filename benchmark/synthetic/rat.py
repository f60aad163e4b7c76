"""A rat seen from above in an open field, as an infrared camera sees it.

The rat walks a smooth random path with momentum, turns away from the walls, pauses, and
scans with its head. Its spine and tail are chains that follow the neck like a rope (so the
body bends through turns), the tail curls slowly, and a tethered headstage cable trails to
the top of the image.

A :class:`Setup` is one recording setup: arena, lighting, camera height and animal. In the
default one (:data:`DEFAULT`) a hooded (Long-Evans) rat walks a light grey floor that
continues past the right edge of the image, so the animal sometimes leaves the frame there.
:data:`SHIFTED` is another lab's setup for the same skeleton: a higher camera (the rat
appears at 0.75x), a smaller arena walled on all four sides with a dark tiled floor, an
off-centre brighter light with a gradient, and an albino rat with softer fur.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from benchmark.synthetic.render import (
    Albedo,
    Camera,
    Part,
    at_fraction,
    compose,
    fur_texture,
    inside,
    occluded_by,
    ou_series,
    resample,
    rot,
    sample,
    smooth_noise,
    unit,
    vignette,
)

KEYPOINTS = (
    "snout",
    "left_ear",
    "right_ear",
    "neck",
    "mid_back",
    "tail_base",
    "tail_mid",
    "tail_tip",
)
EDGES = (
    ("snout", "left_ear"),
    ("snout", "right_ear"),
    ("left_ear", "neck"),
    ("right_ear", "neck"),
    ("neck", "mid_back"),
    ("mid_back", "tail_base"),
    ("tail_base", "tail_mid"),
    ("tail_mid", "tail_tip"),
)

# Body outline (snout -> tail base) as radius per arc-length fraction, at scale 1 (320x240).
_PROFILE_F = np.array([0.0, 0.03, 0.1, 0.2, 0.27, 0.36, 0.5, 0.66, 0.8, 0.9, 1.0])
_PROFILE_R = np.array([1.6, 3.8, 6.8, 9.0, 9.4, 10.4, 11.6, 12.2, 11.8, 10.2, 5.5])
HEAD_LEN = 21.0
BODY_SEGS, BODY_SEG = 5, 10.5
TAIL_SEGS, TAIL_SEG = 9, 7.8
FLOOR, WHITE, HOOD = 0.56, 0.92, 0.2
ALBINO = 0.86
TIP_CONTRAST = 5.0 / 255  # a tail tip fainter than this against the floor is not labelled


def _smoothstep(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _fur_albedo(s: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Hooded coat: dark head and shoulders, dark stripe along the spine, white flanks."""
    hood = 1 - _smoothstep((s - 0.34) / 0.07)
    stripe = (1 - _smoothstep((np.abs(u) - 0.3 + 0.12 * s) / 0.15)) * (s < 0.97)
    dark = np.maximum(hood, stripe * 0.9)
    nose = _smoothstep((0.035 - s) / 0.03) * 0.25  # pinkish nose tip reads brighter in IR
    return WHITE * (1 - dark) + HOOD * dark + nose


def _tail_albedo(s: np.ndarray, u: np.ndarray) -> np.ndarray:
    return 0.34 + 0.16 * s**1.5 + 0.04 * (1 - np.abs(u))


def _albino_fur_albedo(s: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Albino coat: white all over, a little brighter along the back, a pink nose."""
    nose = _smoothstep((0.035 - s) / 0.03) * 0.15
    return ALBINO + 0.06 * (1 - np.abs(u)) - 0.04 * s + nose


def _albino_tail_albedo(s: np.ndarray, u: np.ndarray) -> np.ndarray:
    return 0.58 + 0.1 * s**1.5 + 0.04 * (1 - np.abs(u))


@dataclass(frozen=True)
class Setup:
    """One recording setup: arena, lighting, camera height and the animal's coat.

    Lengths are in pixels at 320x240 and scale with the image; fractions are of the image.

    Attributes:
        scale: Size of the animal (and of the arena's detail) relative to the default
            camera height; below 1 the camera hangs higher.
        floor: Floor albedo (grey level before lighting).
        floor_rect: Floor rectangle ``(x0, y0, x1, y1)`` as fractions of the image; ``x1``
            None: the floor continues past the right edge (no right wall in view).
        tile: Floor tile pitch with dark grout lines (0: a plain floor).
        wall: Albedo of the wall face where it meets the floor fillet (it brightens upwards).
        rim: Albedo of the wall's top rim.
        outside: Albedo beyond the walls.
        vignette: Illumination ``(x, y, falloff)``: the brightest point as fractions of the
            image and how fast light falls off around it.
        gain: Overall brightness of the illumination.
        gradient: Linear change of illumination across the image's width and height.
        light: Shading light direction (x, y, towards the camera).
        shadow: The animal's shadow ``(dx, dy, blur sigma, strength)`` (dx, dy >= 0).
        noise: Camera noise scale (see :class:`~benchmark.synthetic.render.Camera`).
        blur: Camera defocus sigma.
        fur: Body albedo ``f(s, u)`` (s snout to tail base, u across the back).
        tail: Tail albedo ``f(s, u)``.
        ears: Ear albedo.
        fur_grain: Body fur texture ``(streak length, strength)``.
        tail_grain: Tail texture ``(streak length, strength)``.
    """

    scale: float = 1.0
    floor: float = FLOOR
    floor_rect: tuple[float, float, float | None, float] = (0.07, 0.08, None, 0.92)
    tile: float = 0.0
    wall: float = 0.5
    rim: float = 0.9
    outside: float = 0.1
    vignette: tuple[float, float, float] = (0.47, 0.5, 2.6)
    gain: float = 1.05
    gradient: tuple[float, float] = (0.0, 0.0)
    light: tuple[float, float, float] = (0.15, -0.25, 1.0)
    shadow: tuple[float, float, float, float] = (1.5, 2.0, 2.5, 0.35)
    noise: float = 0.022
    blur: float = 0.55
    fur: Albedo = _fur_albedo
    tail: Albedo = _tail_albedo
    ears: float = 0.62
    fur_grain: tuple[float, float] = (4.0, 0.07)
    tail_grain: tuple[float, float] = (0.6, 0.05)


#: The hooded rat in the large open field (the ``synthetic-rat`` dataset).
DEFAULT = Setup()
#: Another lab's setup: higher camera, small dark tiled arena, bright side light, albino rat.
SHIFTED = Setup(
    scale=0.75,
    floor=0.27,
    floor_rect=(0.12, 0.1, 0.88, 0.9),
    tile=40.0,
    wall=0.32,
    rim=0.62,
    outside=0.04,
    vignette=(0.78, 0.22, 1.3),
    gain=1.2,
    gradient=(-0.3, 0.12),
    light=(-0.35, -0.05, 1.0),
    shadow=(3.0, 0.6, 3.0, 0.5),
    noise=0.03,
    blur=0.7,
    fur=_albino_fur_albedo,
    tail=_albino_tail_albedo,
    ears=0.74,
    fur_grain=(1.5, 0.045),
    tail_grain=(1.2, 0.08),
)
#: The setups by variant name (the first is the default).
SETUPS = {"default": DEFAULT, "shifted": SHIFTED}


def _arena(
    size: tuple[int, int], rng: np.random.Generator, setup: Setup = DEFAULT
) -> tuple[np.ndarray, tuple]:
    """Floor and walls (unlit albedo) and the floor rectangle (x0, y0, x1, y1)."""
    w, h = size
    sc = min(w / 320, h / 240) * setup.scale
    rx0, ry0, rx1, ry1 = setup.floor_rect
    fx0, fy0, fy1 = rx0 * w, ry0 * h, ry1 * h
    fx1 = w + 30 * sc if rx1 is None else rx1 * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = setup.floor + 0.035 * smooth_noise(rng, (h, w), 30 * sc)[..., 0]
    img += 0.015 * smooth_noise(rng, (h, w), 2.5 * sc)[..., 0]
    img += 0.012 * rng.normal(0, 1, (h, w)).astype(np.float32)
    scratch = np.zeros((h, w), np.float32)
    for _ in range(14):
        p = rng.uniform([fx0, fy0], [min(fx1, w), fy1])
        q = p + unit(rng.uniform(0, 2 * np.pi)) * rng.uniform(8, 40) * sc
        cv2.line(scratch, tuple(int(v) for v in p), tuple(int(v) for v in q), 1.0, 1, cv2.LINE_AA)
    for _ in range(5):  # faint stains left by earlier animals
        c = rng.uniform([fx0, fy0], [min(fx1, w), fy1])
        cv2.circle(scratch, tuple(int(v) for v in c), int(rng.uniform(3, 8) * sc), -1.2, -1)
    img += 0.035 * cv2.GaussianBlur(scratch, (0, 0), 0.7)
    if setup.tile:  # grout lines between floor tiles
        pitch = setup.tile * sc
        gx, gy = np.abs((xx - fx0) / pitch % 1 - 0.5), np.abs((yy - fy0) / pitch % 1 - 0.5)
        grout = np.exp(-(((0.5 - np.maximum(gx, gy)) * pitch / (0.6 * sc)) ** 2))
        img -= 0.08 * grout
    # Walls: the inner face (lit, with a dark fillet where it meets the floor) and the top rim.
    wall = 10 * sc
    d_left, d_top, d_bot = fx0 - xx, fy0 - yy, yy - fy1
    d = np.maximum(np.maximum(d_left, d_top), d_bot)
    # Corner seams: the two wall faces meet on the diagonal.
    seam = (np.abs(np.abs(d_left - d_top)) < 0.8) & (d_left > 0) & (d_top > 0)
    seam |= (np.abs(d_left - d_bot) < 0.8) & (d_left > 0) & (d_bot > 0)
    if rx1 is not None:  # a right wall in view
        d_right = xx - fx1
        d = np.maximum(d, d_right)
        seam |= (np.abs(d_right - d_top) < 0.8) & (d_right > 0) & (d_top > 0)
        seam |= (np.abs(d_right - d_bot) < 0.8) & (d_right > 0) & (d_bot > 0)
    face = (d > 0) & (d <= wall)
    t = np.clip(d / wall, 0, 1)
    wall_val = setup.wall + 0.25 * t - 0.18 * np.exp(-d / (1.5 * sc))
    img = np.where(face, wall_val, img)
    img = np.where(face & seam, wall_val - 0.12, img)
    rim = (d > wall) & (d <= wall + 2.2 * sc)
    img = np.where(rim, setup.rim, img)
    outside = d > wall + 2.2 * sc
    img = np.where(outside, setup.outside + 0.02 * smooth_noise(rng, (h, w), 4)[..., 0], img)
    return img[..., None].astype(np.float32), (fx0, fy0, fx1, fy1)


def _lighting(size: tuple[int, int], setup: Setup) -> np.ndarray:
    """The setup's illumination map ``(H, W, 1)``: an off-centre vignette and a gradient."""
    w, h = size
    cx, cy, falloff = setup.vignette
    lighting = vignette(size, (cx * w, cy * h), falloff) * setup.gain
    if any(setup.gradient):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        gx, gy = setup.gradient
        lighting = lighting * (1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5))[..., None]
    return lighting


def _follow(
    chain: np.ndarray, lead_dir: np.ndarray, seg: float, max_bend: float, curl: float = 0.0
) -> np.ndarray:
    """Pull a chain after its (already moved) first point, keeping segment lengths and bends."""
    out = chain.copy()
    prev_dir = lead_dir
    prev_ang = np.arctan2(prev_dir[1], prev_dir[0])
    for i in range(1, len(out)):
        v = out[i] - out[i - 1]
        ang = np.arctan2(v[1], v[0]) + curl
        diff = (ang - prev_ang + np.pi) % (2 * np.pi) - np.pi
        ang = prev_ang + np.clip(diff, -max_bend, max_bend)
        out[i] = out[i - 1] + seg * unit(ang)
        prev_ang = ang
    return out


def _clamp(points: np.ndarray, rect: tuple, margin: float) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return np.stack(
        [
            np.clip(points[:, 0], x0 + margin, x1 - margin),
            np.clip(points[:, 1], y0 + margin, y1 - margin),
        ],
        axis=1,
    )


def frames(
    n: int, size: tuple[int, int], rng: np.random.Generator, setup: Setup = DEFAULT
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Render ``n`` consecutive video frames.

    Args:
        n: Number of frames.
        size: Image (width, height).
        rng: The video's random generator.
        setup: The recording setup (arena, lighting, camera height, animal).

    Yields:
        The frame as ``(H, W, 3)`` uint8 and its keypoints ``(8, 2)`` (NaN where hidden).
    """
    w, h = size
    base = min(w / 320, h / 240)
    sc = base * setup.scale  # the animal's scale: the camera's height sets it
    background, floor = _arena(size, rng, setup)
    lighting = _lighting(size, setup)
    cam = Camera(rng, lighting, noise=setup.noise, blur=setup.blur * base)
    body_tex = fur_texture(rng, 200, streak=setup.fur_grain[0]) * setup.fur_grain[1]
    tail_tex = fur_texture(rng, 200, streak=setup.tail_grain[0]) * setup.tail_grain[1]
    pre = 120
    total = n + pre
    # Motion plan: alternating bouts of walking and pausing.
    moving = np.zeros(total, bool)
    t, state = 0, True
    while t < total:
        dur = int(rng.integers(40, 110) if state else rng.integers(12, 45))
        moving[t : t + dur] = state
        t += dur
        state = not state
    speed_goal = np.clip(2.3 + ou_series(rng, total, 30, 0.7), 0.8, 3.6) * sc
    turn_noise = ou_series(rng, total, 12, 0.05)
    yaw_noise = ou_series(rng, total, 10, 1.0)
    curl = ou_series(rng, total, 25, 0.05)
    sway = ou_series(rng, total, 40, 1.0)
    area = (
        floor[0] + 18 * sc,
        floor[1] + 18 * sc,
        min(floor[2], w + 6 * sc) - 14 * sc,
        floor[3] - 18 * sc,
    )
    pos = np.array(rng.uniform([area[0] + 20, area[1] + 20], [area[2] - 40, area[3] - 20]))
    heading = rng.uniform(-np.pi, np.pi)
    speed, yaw = 0.0, 0.0
    body = pos + np.arange(BODY_SEGS + 1)[:, None] * BODY_SEG * sc * -unit(heading)
    tail = body[-1] + np.arange(TAIL_SEGS + 1)[:, None] * TAIL_SEG * sc * -unit(heading)
    anchor = np.array([0.58 * w, -40 * sc])
    light = setup.light
    for t in range(total):
        goal = speed_goal[t] if moving[t] else 0.0
        speed += (goal - speed) * 0.12
        omega = turn_noise[t]
        ahead = pos + unit(heading) * (24 * sc + 10 * speed)
        push = np.array(
            [
                max(area[0] - ahead[0], 0) - max(ahead[0] - area[2], 0),
                max(area[1] - ahead[1], 0) - max(ahead[1] - area[3], 0),
            ]
        )
        if push.any():
            want = np.arctan2(*(unit(heading) + 0.08 * push)[::-1])
            diff = (want - heading + np.pi) % (2 * np.pi) - np.pi
            omega += np.clip(0.3 * diff, -0.14, 0.14)
        heading += omega * min(1.0, 0.15 + speed / (1.2 * sc))
        old = pos.copy()
        pos = pos + speed * unit(heading)
        pos = _clamp(pos[None], area, 0)[0]
        yaw_goal = np.clip(yaw_noise[t] * (0.35 if moving[t] else 0.75) + 5 * omega, -1.1, 1.1)
        yaw += (yaw_goal - yaw) * 0.15
        body[0] = pos
        body = _follow(body, -unit(heading), BODY_SEG * sc, 0.22)
        body = _clamp(body, floor, 7 * sc)
        tail[0] = body[-1]
        back = body[-1] - body[-2]
        tail = _follow(tail, back / np.linalg.norm(back), TAIL_SEG * sc, 0.5, curl[t])
        tail = _clamp(tail, floor, 1.5 * sc)
        if t < pre:
            continue
        yield _draw(
            t,
            pos,
            old,
            heading,
            yaw,
            body,
            tail,
            anchor,
            sway[t],
            sc,
            size,
            background,
            lighting,
            light,
            body_tex,
            tail_tex,
            cam,
            setup,
        )


def _draw(
    t,
    pos,
    old,
    heading,
    yaw,
    body,
    tail,
    anchor,
    sway,
    sc,
    size,
    background,
    lighting,
    light,
    body_tex,
    tail_tex,
    cam,
    setup: Setup,
) -> tuple[np.ndarray, np.ndarray]:
    hd = unit(heading + yaw)
    snout = pos + hd * HEAD_LEN * sc
    head_mid = pos + hd * HEAD_LEN * 0.5 * sc
    spine, frac = resample(np.vstack([snout, head_mid, body]), step=1.5)
    n_disc = len(spine)
    radii = np.interp(frac, _PROFILE_F, _PROFILE_R) * sc
    parts = [
        Part(
            "body",
            spine,
            radii,
            0.0,
            setup.fur,
            1.0,
            0.9,
            body_tex[np.linspace(0, 199, n_disc).astype(int)],
        )
    ]
    tail_curve, tail_frac = resample(tail, step=0.9)
    tail_r = (2.8 - 2.2 * tail_frac**0.8) * sc
    parts.append(
        Part(
            "tail",
            tail_curve,
            tail_r,
            0.0,
            setup.tail,
            1.0,
            0.6,
            tail_tex[np.linspace(0, 199, len(tail_curve)).astype(int)],
        )
    )
    # Ears sit on the head behind the eyes; in a strong head turn the inner ear rolls down
    # against the shoulder and is hidden under the body.
    left = rot(hd, -np.pi / 2)
    ear_base = pos + hd * 5.5 * sc
    roll = float(_smoothstep((abs(yaw) - 0.5) / 0.3))
    ears = {}
    for name, side in (("left_ear", 1.0), ("right_ear", -1.0)):
        inner = (side > 0) == (yaw < 0)
        r_roll = roll if inner else 0.0
        c = ear_base + left * side * (8.0 - 2.2 * r_roll) * sc - hd * 3.0 * r_roll * sc
        z = (6.5 - 10.0 * r_roll) * sc
        ears[name] = (c, z)
        rim = np.vstack([c - hd * 1.2 * sc, c + left * side * 0.8 * sc, c + hd * 1.2 * sc])
        parts.append(Part(name, rim, np.full(3, 3.8 * sc), z, setup.ears, 0.3, 0.5))
    # Headstage and its tether cable.
    stage = pos + hd * 8.5 * sc
    parts.append(
        Part(
            "headstage",
            np.vstack([stage - hd * 1.5 * sc, stage + hd * 1.5 * sc]),
            np.full(2, 2.6 * sc),
            8 * sc,
            0.42,
            0.3,
            0.4,
        )
    )
    mid = (stage + anchor) / 2
    nrm = rot((anchor - stage) / (np.linalg.norm(anchor - stage) + 1e-9), np.pi / 2)
    ctrl = mid + nrm * sway * 30 * sc
    tt = np.linspace(0, 1, max(int(np.linalg.norm(anchor - stage) / 0.8), 8))[:, None]
    cable = (1 - tt) ** 2 * stage + 2 * (1 - tt) * tt * ctrl + tt**2 * anchor
    parts.append(Part("cable", cable, np.full(len(cable), 0.8 * sc), 40 * sc, 0.28, 0.0, 0.0))
    motion = (pos - old) * 0.6
    frame = compose(
        background,
        parts,
        light,
        0.3,
        shadow=(*(v * sc for v in setup.shadow[:3]), setup.shadow[3]),
        motion=tuple(motion),
    )
    image = cam(frame.image)

    def z_body(f: float) -> float:
        return float(np.interp(f, _PROFILE_F, _PROFILE_R) * sc)

    body_len = HEAD_LEN + BODY_SEGS * BODY_SEG
    f_neck, f_mid = HEAD_LEN / body_len, (HEAD_LEN + BODY_SEGS * BODY_SEG / 2) / body_len
    kp = {
        "snout": (at_fraction(spine, frac, 1.0 / n_disc), "body", z_body(0.02)),
        "left_ear": (ears["left_ear"][0], "left_ear", ears["left_ear"][1] + 0.9 * sc),
        "right_ear": (ears["right_ear"][0], "right_ear", ears["right_ear"][1] + 0.9 * sc),
        "neck": (at_fraction(spine, frac, f_neck), "body", z_body(f_neck)),
        "mid_back": (at_fraction(spine, frac, f_mid), "body", z_body(f_mid)),
        "tail_base": (body[-1], "body", z_body(1.0)),
        "tail_mid": (
            at_fraction(tail_curve, tail_frac, 0.5),
            "tail",
            float(tail_r[len(tail_r) // 2]),
        ),
        "tail_tip": (tail_curve[-1], "tail", float(tail_r[-1])),
    }
    pts = np.full((len(KEYPOINTS), 2), np.nan)
    lit = frame.image * lighting
    lit_bg = frame.background * lighting
    for j, name in enumerate(KEYPOINTS):
        xy, owner, z = kp[name]
        if not inside(xy, size) or occluded_by(frame.rasters, owner, xy, z):
            continue
        if name == "tail_tip" and np.abs(sample(lit, xy) - sample(lit_bg, xy)).max() < TIP_CONTRAST:
            continue
        pts[j] = xy
    return image, pts
