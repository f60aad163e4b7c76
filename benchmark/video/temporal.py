"""Temporal stability of predictions on a video, without labels."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

#: Default thresholds as fractions of the frame diagonal (2 px and 40 px at 640x480).
STILL_FRACTION = 0.0025
JUMP_FRACTION = 0.05


def default_thresholds(width: int, height: int) -> tuple[float, float]:
    """``(still_px, jump_px)`` for a frame size: the animal is still when its median keypoint
    moves less than ``still_px`` between frames; a keypoint jumps when it moves more than
    ``jump_px``."""
    diagonal = float(np.hypot(width, height))
    return STILL_FRACTION * diagonal, JUMP_FRACTION * diagonal


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def _share(flags: np.ndarray, valid: np.ndarray) -> float | None:
    return float(flags[valid].mean()) if valid.any() else None


def temporal_metrics(
    values: np.ndarray, keypoints: Sequence[str], *, still_px: float, jump_px: float
) -> dict:
    """Jitter, jumps and misses of a predicted trajectory.

    For each keypoint, ``d[t]`` is its displacement between frames t and t+1 (defined when it
    is detected in both). The animal is still at transition t when the median of ``d[t]``
    over its detected keypoints is below ``still_px``.

    Args:
        values: ``(n_frames, k, >=2)`` predictions in video order, NaN x, y = not detected.
        keypoints: The k keypoint names.
        still_px: Stillness threshold (px per frame).
        jump_px: Jump threshold (px per frame).

    Returns:
        ``jitter_px`` (median d), ``jitter_still_px`` (median d while still), ``jump_share``
        (share of transitions with a defined d where d > ``jump_px``), ``missing_share`` (share
        of frames not detected); overall and under ``per_keypoint``. Overall, ``jump_share`` is
        the share of transitions where any keypoint jumps, and ``still_share`` the share of
        transitions where the animal is still. Undefined values are None.
    """
    xy = np.asarray(values, dtype=np.float64)[..., :2]
    n, k = xy.shape[:2]
    if len(keypoints) != k:
        raise ValueError(f"{len(keypoints)} keypoint names for {k} keypoints")
    detected = np.isfinite(xy).all(axis=-1)
    d = np.linalg.norm(np.diff(xy, axis=0), axis=-1) if n > 1 else np.empty((0, k))
    valid = np.isfinite(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # transitions with no keypoint
        speed = np.nanmedian(d, axis=1) if len(d) else np.empty(0)
    has_speed = np.isfinite(speed)
    still = has_speed & (speed < still_px)
    jumps = np.where(valid, d, 0.0) > jump_px

    per_keypoint = {
        name: {
            "jitter_px": _median(d[:, j]),
            "jitter_still_px": _median(d[still, j]),
            "jump_share": _share(jumps[:, j], valid[:, j]),
            "missing_share": float(1 - detected[:, j].mean()) if n else None,
        }
        for j, name in enumerate(keypoints)
    }
    return {
        "n_frames": int(n),
        "still_px": float(still_px),
        "jump_px": float(jump_px),
        "jitter_px": _median(d),
        "jitter_still_px": _median(d[still]),
        "jump_share": _share(jumps.any(axis=1), valid.any(axis=1)),
        "missing_share": float(1 - detected.mean()) if n else None,
        "still_share": _share(still, has_speed),
        "per_keypoint": per_keypoint,
    }
