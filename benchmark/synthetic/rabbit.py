"""A rabbit seen from the side in a pen (colour camera, daylight).

The rabbit alternates bouts of hops, rests (sniffing, head bobs, ears turning) and turns.
A hop lifts and pitches the body, stretches it, kicks the hind feet back and reaches the
front paws forward. The pen has a plank wall, a straw floor, a hay rack and a pen bar in
front of the animal that hide the paws and ears as it passes behind them.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from benchmark.synthetic.render import (
    Camera,
    Part,
    compose,
    fur_texture,
    inside,
    occluded_by,
    ou_series,
    resample,
    sample,
    smooth_noise,
    vignette,
)

KEYPOINTS = ("nose", "eye", "ear_base", "ear_tip", "front_paw", "hind_paw", "tail", "back")
EDGES = (
    ("nose", "eye"),
    ("eye", "ear_base"),
    ("ear_base", "ear_tip"),
    ("ear_base", "back"),
    ("back", "tail"),
    ("back", "hind_paw"),
    ("ear_base", "front_paw"),
)

FUR = np.array([0.52, 0.40, 0.29], np.float32)
BELLY = np.array([0.78, 0.72, 0.64], np.float32)
# Spine (rump -> nose) in body coordinates (forward, up) and radii, at scale 1, resting pose.
_SPINE = np.array(
    [[-33, 21], [-23, 25], [-8, 26], [7, 23], [17, 25], [26, 30], [34, 28], [40, 26]], float
)
_SPINE_R = np.array([13.5, 19.5, 18.5, 14.5, 10.5, 10.5, 7.0, 3.2])
_HIP = np.array([-8.0, 20.0])
OCCLUDED = 0.5  # a keypoint behind the rack or bar (alpha above this) is not labelled


def _smooth(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _scene(size: tuple[int, int], rng: np.random.Generator):
    """Background (wall, floor), foreground occluders (colour, alpha) and ground line y."""
    w, h = size
    sc = min(w / 320, h / 240)
    horizon = int(0.46 * h)
    ground = 0.88 * h
    img = np.zeros((h, w, 3), np.float32)
    # Plank wall: boards of varying tone with vertical grain and dark gaps.
    board = 24 * sc
    xs = np.arange(w)
    idx = (xs / board).astype(int)
    tone = 0.85 + 0.15 * rng.random(idx.max() + 2)
    grain = cv2.GaussianBlur(
        rng.normal(0, 1, (horizon, w)).astype(np.float32), (0, 0), 0.7, sigmaY=12
    )
    wood = np.array([0.62, 0.48, 0.33], np.float32)
    wall = wood * (tone[idx][None, :, None] + 0.05 * grain[..., None])
    gap = (xs % board) < 1.5 * sc
    wall[:, gap] *= 0.35
    wall *= np.linspace(0.8, 1.0, horizon)[:, None, None]
    img[:horizon] = wall
    # Straw floor: many short strokes over a warm base, shaded darker near the wall.
    floor = np.ones((h - horizon, w, 3), np.float32) * np.array([0.74, 0.63, 0.42], np.float32)
    strokes = np.zeros((h - horizon, w), np.float32)
    for _ in range(int(900 * sc * sc)):
        p = rng.uniform([0, 0], [w, h - horizon])
        ang = rng.normal(0, 0.5)
        ln = rng.uniform(3, 12) * sc
        q = p + ln * np.array([np.cos(ang), np.sin(ang) * 0.4])
        cv2.line(
            strokes,
            tuple(int(v) for v in p),
            tuple(int(v) for v in q),
            float(rng.uniform(-1, 1)),
            1,
            cv2.LINE_AA,
        )
    floor *= 1 + 0.18 * cv2.GaussianBlur(strokes, (0, 0), 0.5)[..., None]
    floor *= (0.75 + 0.25 * np.linspace(0, 1, h - horizon))[:, None, None]
    img[horizon:] = floor
    img[horizon - int(3 * sc) : horizon] *= 0.55  # baseboard shadow
    img *= 1 + 0.04 * smooth_noise(rng, (h, w), 20 * sc)
    # Foreground: a hay rack (two rails, slats, hay) and a metal pen bar.
    fg = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    rx0, rx1 = int(0.66 * w), int(0.8 * w)
    top = int(ground - 34 * sc)
    hay = np.zeros((h, w), np.float32)
    for _ in range(int(160 * sc)):
        p = rng.uniform([rx0, top - 10 * sc], [rx1, top + 4 * sc])
        q = p + rng.uniform(6, 16) * sc * np.array(
            [np.cos(a := rng.uniform(-2.6, -0.5)), np.sin(a)]
        )
        cv2.line(hay, tuple(int(v) for v in p), tuple(int(v) for v in q), 1.0, 1, cv2.LINE_AA)
    hay = np.clip(hay, 0, 1)
    fg += hay[..., None] * np.array([0.80, 0.72, 0.40], np.float32)
    alpha = np.maximum(alpha, hay)
    rail = np.array([0.55, 0.40, 0.25], np.float32)
    for y0, y1 in ((top, top + 6 * sc), (ground - 10 * sc, ground + 4 * sc)):
        alpha[int(y0) : int(y1), rx0:rx1] = 1
        fg[int(y0) : int(y1), rx0:rx1] = (
            rail * np.linspace(1.1, 0.75, int(y1) - int(y0))[:, None, None]
        )
    for x in np.linspace(rx0, rx1 - 5 * sc, 5):
        alpha[top : int(ground + 4 * sc), int(x) : int(x + 5 * sc)] = 1
        fg[top : int(ground + 4 * sc), int(x) : int(x + 5 * sc)] = rail * 0.95
    bx = int(0.24 * w)
    bw = max(int(5 * sc), 2)
    shade = 0.35 + 0.6 * np.sin(np.linspace(0.2, np.pi - 0.2, bw)) ** 2
    alpha[:, bx : bx + bw] = 1
    fg[:, bx : bx + bw] = np.array([0.6, 0.62, 0.65], np.float32) * shade[None, :, None]
    return img, fg * alpha[..., None], alpha, ground, sc


def _plan(total: int, rng: np.random.Generator, x_lo: float, x_hi: float, hop: float):
    """Per-frame root x, facing (yaw), hop phase (NaN when not hopping) and resting flag."""
    x = rng.uniform(x_lo + 0.3 * (x_hi - x_lo), x_hi - 0.3 * (x_hi - x_lo))
    facing = 1.0 if rng.random() < 0.5 else -1.0
    yaw = 0.0 if facing > 0 else np.pi
    xs, yaws, phase, rest = [], [], [], []
    while len(xs) < total:
        mode = rng.choice(["hop", "rest", "turn"], p=[0.55, 0.3, 0.15])
        ahead = x + facing * hop
        if mode == "hop" and not (x_lo < ahead < x_hi):
            mode = "turn"
        if mode == "hop":
            period = int(rng.integers(12, 17))
            for _ in range(int(rng.integers(1, 5))):
                if not (x_lo < x + facing * hop < x_hi):
                    break
                start = x
                for i in range(period):
                    ph = i / period
                    x = start + facing * hop * float(_smooth((ph - 0.1) / 0.8))
                    xs.append(x), yaws.append(yaw), phase.append(ph), rest.append(False)
                x = start + facing * hop
        elif mode == "rest":
            for _ in range(int(rng.integers(10, 40))):
                xs.append(x), yaws.append(yaw), phase.append(np.nan), rest.append(True)
        else:
            n = int(rng.integers(10, 16))
            target = np.pi - yaw if yaw in (0.0, np.pi) else 0.0
            for i in range(1, n + 1):
                yaws.append(yaw + (target - yaw) * float(_smooth(i / n)))
                xs.append(x), phase.append(np.nan), rest.append(True)
            yaw, facing = target, (1.0 if target == 0.0 else -1.0)
    return (np.array(v[:total]) for v in (xs, yaws, phase, rest))


def _rot(p: np.ndarray, c: np.ndarray, a: float) -> np.ndarray:
    ca, sa = np.cos(a), np.sin(a)
    d = p - c
    return c + np.stack([ca * d[..., 0] - sa * d[..., 1], sa * d[..., 0] + ca * d[..., 1]], -1)


def frames(
    n: int, size: tuple[int, int], rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Render ``n`` consecutive video frames.

    Yields:
        The frame as ``(H, W, 3)`` uint8 and its keypoints ``(8, 2)`` (NaN where hidden).
    """
    w, h = size
    background, fg, fg_alpha, ground, sc = _scene(size, rng)
    k = 1.45 * sc
    cam = Camera(rng, vignette(size, (0.45 * w, 0.35 * h), 0.9), noise=0.014, blur=0.5 * sc)
    xs, yaws, phases, rests = _plan(n, rng, 0.1 * w, 0.9 * w, 40 * k)
    ear_wiggle = ou_series(rng, n, 15, 0.14)
    ear_spread = ou_series(rng, n, 25, 0.08)
    head_dip = np.clip(ou_series(rng, n, 20, 0.35), 0, None)
    body_tex = fur_texture(rng, 240, 3.0) * 0.05
    ear_tex = fur_texture(rng, 80, 2.0) * 0.06
    light = (-0.35, -0.7, 0.65)
    prev_x = xs[0]
    for t in range(n):
        ph = phases[t]
        hopping = not np.isnan(ph)
        lift = 26 * float(np.sin(np.pi * _smooth((ph - 0.08) / 0.8))) if hopping else 0.0
        pitch = 0.3 * float(np.sin(2 * np.pi * ph)) * (1 - ph) if hopping else 0.0
        stretch = (
            1 + 0.16 * float(np.sin(np.pi * np.clip((ph - 0.05) / 0.75, 0, 1))) if hopping else 1.0
        )
        kick = float(np.sin(np.pi * np.clip(ph / 0.6, 0, 1))) if hopping else 0.0
        reach = float(np.sin(np.pi * np.clip((ph - 0.25) / 0.6, 0, 1))) if hopping else 0.0
        dip = float(head_dip[t]) * (1.0 if rests[t] else 0.2)
        # Body-frame geometry (forward, up) at scale 1.
        spine = _SPINE.copy()
        spine[:, 0] *= stretch
        neck = spine[4].copy()
        spine[4:] = _rot(spine[4:], neck, -dip)  # head lowered to sniff (pitch nose-down)
        ear_root = _rot(np.array([22.0, 37.0]), neck, -dip)
        ear_ang = np.radians(105) + 0.35 * kick + ear_wiggle[t] - dip * 0.5
        ear_len = 31.0
        along = np.linspace(0, 1, 6)[:, None]
        ear_near = ear_root + along * ear_len * np.array([np.cos(ear_ang), np.sin(ear_ang)])
        a2 = ear_ang + 0.18 + ear_spread[t]
        ear_far = ear_root + along * ear_len * np.array([np.cos(a2), np.sin(a2)])
        eye = _rot(np.array([29.5, 31.5]), neck, -dip)
        front = np.array(
            [
                [9, 16],
                [13 + 8 * reach, 7 - 4 * reach],
                [16 + 12 * reach, 1.6 - 5 * reach],
                [20 + 12 * reach, 1.6 - 5 * reach],
            ]
        )
        heel = np.array([-31 - 10 * kick, 4 + 6 * kick])
        toe = np.array([-11 - 30 * kick, 2.2 + 1 * kick])
        hind = np.array([heel, (heel + toe) / 2, toe])
        thigh = np.array([[-20, 18], [-26 - 4 * kick, 10 + 2 * kick]])
        tail = np.array([-45.0 * stretch, 25 + 4 * kick])
        back_pt = np.array([-8.0 * stretch, 26 + 18.5 * 0.88])

        def place(
            p: np.ndarray,
            d: float | np.ndarray,
            _t: int = t,
            pitch: float = pitch,
            lift: float = lift,
        ) -> tuple[np.ndarray, np.ndarray]:
            """Body (forward, up, depth) -> image xy and depth towards the camera."""
            p = _rot(np.atleast_2d(p), _HIP, pitch)
            yaw = yaws[_t]
            side = 1.0 if np.cos(yaw) >= 0 else -1.0  # the camera always sees the "near" side
            dd = np.broadcast_to(np.asarray(d, float) * side, p.shape[:1])
            x = xs[_t] + k * (p[:, 0] * np.cos(yaw) - dd * np.sin(yaw))
            y = ground - k * (p[:, 1] + lift)
            depth = k * (p[:, 0] * np.sin(yaw) + dd * np.cos(yaw))
            return np.stack([x, y], -1), depth

        facing = 1.0 if np.cos(yaws[t]) >= 0 else -1.0

        def fur(s: np.ndarray, u: np.ndarray, _f: float = facing) -> np.ndarray:
            below = _smooth((u * _f - 0.35) / 0.4)[..., None]
            top = _smooth((-u * _f - 0.5) / 0.4)[..., None]
            muzzle = _smooth((s - 0.9) / 0.08)[..., None]
            c = FUR * (1 - 0.25 * top) * (1 - below) + BELLY * below
            return (
                c * (1 - 0.35 * muzzle) + np.array([0.75, 0.62, 0.55], np.float32) * 0.35 * muzzle
            )

        parts: list[Part] = []
        sp_xy, sp_d = place(spine, 0.0)
        curve, frac = resample(sp_xy, step=2.0)
        chord = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(sp_xy, axis=0), axis=1))])
        radii = np.interp(frac, chord / chord[-1], _SPINE_R) * k
        depth = np.interp(frac, chord / chord[-1], sp_d)
        tex = body_tex[np.linspace(0, 239, len(curve)).astype(int)]
        parts.append(Part("body", curve, radii, depth, fur, 0.55, 0.8, tex))
        for name, pts, rad, d, col in (
            (
                "far_front",
                front + np.array([3, 0]),
                np.array([4.0, 3.4, 3.0, 2.8]),
                -6.0,
                FUR * 0.7,
            ),
            ("far_hind", hind + np.array([4, 0]), np.array([4.2, 3.6, 2.8]), -7.0, FUR * 0.7),
            ("front_leg", front, np.array([4.5, 3.6, 3.1, 2.8]), 7.0, FUR * 1.05),
            ("thigh", thigh, np.array([11.0, 6.5]), 4.0, FUR),
            ("hind_leg", hind, np.array([4.6, 3.8, 3.0]), 8.0, FUR * 1.05),
        ):
            xy, dep = place(pts, d)
            c, _ = resample(xy, step=1.6)
            parts.append(
                Part(
                    name,
                    c,
                    np.interp(np.linspace(0, 1, len(c)), np.linspace(0, 1, len(rad)), rad) * k,
                    float(dep.mean()),
                    col,
                    0.5,
                    0.7,
                )
            )
        ear_r = np.array([2.6, 4.2, 4.4, 3.8, 2.6, 0.9])
        for name, pts, d, dark in (("far_ear", ear_far, -3.0, 0.75), ("ear", ear_near, 3.0, 1.0)):
            xy, dep = place(pts, d)
            c, f = resample(xy, step=1.4)

            def ear_col(s: np.ndarray, u: np.ndarray, _dark: float = dark) -> np.ndarray:
                tip = _smooth((s - 0.82) / 0.1)[..., None]
                return (FUR * 1.05 * (1 - tip) + np.array([0.15, 0.12, 0.1]) * tip) * _dark

            rr = np.interp(f, np.linspace(0, 1, 6), ear_r) * k
            parts.append(
                Part(
                    name,
                    c,
                    rr,
                    dep.mean() + 4 * k,
                    ear_col,
                    0.35,
                    0.6,
                    ear_tex[np.linspace(0, 79, len(c)).astype(int)],
                )
            )
        head_depth = float(place(spine[5], 0.0)[1][0])
        eye_xy, _ = place(eye, 0.0)
        parts.append(
            Part(
                "eye",
                eye_xy,
                np.array([2.5 * k]),
                head_depth + 7.2 * k,
                (0.05, 0.04, 0.04),
                0.1,
                0.9,
            )
        )
        tail_xy, tail_d = place(tail, 1.0)
        parts.append(
            Part("tail", tail_xy, np.array([6.0 * k]), tail_d[0], (0.93, 0.91, 0.88), 0.4, 0.8)
        )

        # Contact shadow on the floor, fainter and wider the higher the rabbit is.
        cx, half = float(xs[t]), 34 * k * abs(np.cos(yaws[t])) + 14 * k
        blur = 3 * sc + 0.3 * lift
        x0, x1 = max(int(cx - half - 3 * blur), 0), min(int(cx + half + 3 * blur) + 1, w)
        y0, y1 = max(int(ground - 3 * blur - 4 * k), 0), h
        bg = background
        if x1 > x0:
            shadow = np.zeros((y1 - y0, x1 - x0), np.float32)
            centre = (int(cx) - x0, int(ground + 2 * sc) - y0)
            cv2.ellipse(shadow, centre, (int(half), int(4 * k)), 0, 0, 360, 1.0, -1)
            shadow = cv2.GaussianBlur(shadow, (0, 0), blur)
            bg = background.copy()
            bg[y0:y1, x0:x1] *= (1 - 0.45 / (1 + lift / 15) * shadow)[..., None]
        frame = compose(bg, parts, light, 0.4, None, motion=((xs[t] - prev_x) * 0.5, 0.0))
        prev_x = xs[t]
        scene = frame.image * (1 - fg_alpha[..., None]) + fg
        image = cam(scene)

        ear_xy, ear_d = place(ear_near, 3.0)
        kp = {
            "nose": (curve[-2], "body", float(depth[-2] + radii[-2] * 0.55)),
            "eye": (eye_xy[0], "eye", head_depth + 7.2 * k + 2.5 * k * 0.1),
            "ear_base": (ear_xy[1], "ear", float(ear_d[1]) + 4 * k),
            "ear_tip": (
                ear_xy[-1] + (ear_xy[-2] - ear_xy[-1]) * 0.15,
                "ear",
                float(ear_d[-1]) + 4 * k,
            ),
            "front_paw": (
                place(front[-2:].mean(0), 7.0)[0][0],
                "front_leg",
                float(place(front, 7.0)[1].mean()),
            ),
            "hind_paw": (
                place(hind[1:].mean(0), 8.0)[0][0],
                "hind_leg",
                float(place(hind, 8.0)[1].mean()),
            ),
            "tail": (tail_xy[0], "tail", float(tail_d[0])),
            "back": (place(back_pt, 0.0)[0][0], "body", float(sp_d.mean())),
        }
        pts = np.full((len(KEYPOINTS), 2), np.nan)
        for j, name in enumerate(KEYPOINTS):
            xy, owner, z = kp[name]
            if not inside(xy, size) or occluded_by(frame.rasters, owner, xy, z):
                continue
            if float(sample(fg_alpha[..., None], xy)[0]) > OCCLUDED:
                continue
            pts[j] = xy
        yield image, pts
