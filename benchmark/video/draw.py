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
    _outlined_text(img, text, (4, 4 + int(22 * scale)), scale)
    return img


def _outlined_text(img: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    """White text with a one-pixel black outline, in place."""
    # A black outline from shifted copies: a thicker stroke would also space the letters wider
    # (cv2's advance grows with thickness) and drift out of line with the white text.
    x, y = origin
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1), (1, -1)):
        cv2.putText(
            img, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def with_legend(
    image: np.ndarray,
    names: Sequence[str],
    colors: Sequence[Color],
    *,
    min_score: float | None = None,
) -> np.ndarray:
    """``image`` with a keypoint legend (colour -> name) in a panel on its right.

    The panel is as tall as the image and as wide as its columns need; the image itself is
    not covered. Markers are drawn as :func:`draw_pose` draws them.

    Args:
        image: ``(H, W, 3)`` uint8 RGB, e.g. a labelled frame.
        names: Keypoint names, in the order of ``colors``.
        colors: RGB colour of each keypoint.
        min_score: When given, a last entry shows the hollow marker of points below it.

    Returns:
        ``(H, W + legend width, 3)`` uint8 RGB.
    """
    h = image.shape[0]
    radius = max(2, round(min(image.shape[:2]) / 90))
    scale = max(0.35, h / 700)
    entries: list[tuple[str, Color | None]] = list(zip(names, colors, strict=True))
    if min_score is not None:
        entries.append((f"score < {min_score:g}", None))
    (_, text_h), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    row = max(text_h + base, 2 * radius + 2) + max(2, text_h // 2)
    pad = max(3, radius)
    per_col = max(1, (h - 2 * pad) // row)
    columns = [entries[i : i + per_col] for i in range(0, len(entries), per_col)]
    widths = [
        max(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for text, _ in col)
        + 2 * radius
        + 3 * pad
        for col in columns
    ]
    panel = np.full((h, sum(widths) + pad, 3), 32, dtype=np.uint8)
    x0 = pad
    for col, width in zip(columns, widths, strict=True):
        for k, (text, color) in enumerate(col):
            cy = pad + k * row + row // 2
            center = (x0 + radius + 1, cy)
            if color is None:  # below the score cutoff: hollow, in white
                cv2.circle(panel, center, radius, (255, 255, 255), max(1, radius // 2), cv2.LINE_AA)
            else:
                cv2.circle(panel, center, radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
                cv2.circle(panel, center, radius, color, -1, cv2.LINE_AA)
            _outlined_text(panel, text, (x0 + 2 * radius + pad + 2, cy + text_h // 2), scale)
        x0 += width
    return np.hstack([np.asarray(image, dtype=np.uint8), panel])


def tile(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Panels of equal size in a grid (side by side for two or three, 2x2 for four)."""
    n = len(panels)
    cols = n if n <= 3 else math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    blank = np.zeros_like(panels[0])
    cells = list(panels) + [blank] * (rows * cols - n)
    return np.vstack([np.hstack(cells[r * cols : (r + 1) * cols]) for r in range(rows)])
