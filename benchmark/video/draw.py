"""Drawing predicted poses on video frames (OpenCV, anti-aliased)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Color = tuple[int, int, int]


def keypoint_colors(n: int) -> list[Color]:
    """One distinct RGB colour per keypoint (seaborn's husl palette)."""
    import seaborn as sns

    return [tuple(round(255 * c) for c in rgb) for rgb in sns.color_palette("husl", n)]


def draw_pose(
    frame: np.ndarray,
    pose: np.ndarray,
    edges: Sequence[tuple[int, int]],
    colors: Sequence[Color],
    *,
    min_score: float,
    text: str,
) -> np.ndarray:
    """A copy of ``frame`` with one pose drawn on it.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        pose: ``(k, 3)`` x, y, score; NaN x, y = not detected (not drawn).
        edges: Skeleton edges as keypoint index pairs.
        colors: RGB colour of each keypoint.
        min_score: Points scoring below this are drawn hollow.
        text: Caption written in the top-left corner.

    Returns:
        The labelled ``(H, W, 3)`` uint8 RGB frame.
    """
    img = np.array(frame, dtype=np.uint8, copy=True, order="C")
    h, w = img.shape[:2]
    radius = max(2, round(min(h, w) / 90))
    thick = max(1, radius // 2)
    ok = np.isfinite(pose[:, :2]).all(axis=1)
    # Sub-pixel positions through cv2's fixed-point "shift" argument.
    shift = 4
    pts = np.zeros((len(pose), 2), dtype=np.int64)
    pts[ok] = np.round(pose[ok, :2] * (1 << shift)).astype(np.int64)
    for a, b in edges:
        if ok[a] and ok[b]:
            mix = tuple(int((ca + cb) / 2) for ca, cb in zip(colors[a], colors[b], strict=True))
            cv2.line(img, tuple(pts[a]), tuple(pts[b]), mix, thick, cv2.LINE_AA, shift)
    for j in np.flatnonzero(ok):
        center, color = tuple(pts[j]), colors[j]
        score = pose[j, 2]
        if math.isfinite(score) and score < min_score:
            cv2.circle(img, center, radius << shift, color, thick, cv2.LINE_AA, shift)
        else:
            cv2.circle(img, center, (radius + 1) << shift, (0, 0, 0), -1, cv2.LINE_AA, shift)
            cv2.circle(img, center, radius << shift, color, -1, cv2.LINE_AA, shift)
    scale = max(0.35, h / 700)
    origin = (4, 4 + int(22 * scale))
    # A black outline from shifted copies: a thicker stroke would also space the letters wider
    # (cv2's advance grows with thickness) and drift out of line with the white text.
    x, y = origin
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1), (1, -1)):
        cv2.putText(
            img, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def tile(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Panels of equal size in a grid (side by side for two or three, 2x2 for four)."""
    n = len(panels)
    cols = n if n <= 3 else math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    blank = np.zeros_like(panels[0])
    cells = list(panels) + [blank] * (rows * cols - n)
    return np.vstack([np.hstack(cells[r * cols : (r + 1) * cols]) for r in range(rows)])
