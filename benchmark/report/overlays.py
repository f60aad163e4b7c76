"""Test frames with the ground truth and every adapter's predictions drawn on them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark.images import read_image
from benchmark.report.figures import save_png

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
PANEL_ASPECT = 4 / 3  # width / height of each panel's crop


def _marker(name: str, colors: Mapping[str, object]) -> str:
    """The adapter's marker: fixed by its place in ``colors``, like its colour."""
    return MARKERS[list(colors).index(name) % len(MARKERS)]


def _crop_box(
    points: np.ndarray, width: int, height: int, pad_fraction: float = 0.35
) -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)`` around ``points`` (any shape ``(..., 2)``), padded, 4:3, in-image.

    Falls back to the whole image when no point is finite.
    """
    pts = points.reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    pts = pts[(pts[:, 0] > -width) & (pts[:, 0] < 2 * width)]  # ignore wild predictions
    if len(pts) == 0:
        return -0.5, width - 0.5, -0.5, height - 0.5
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    pad = max(pad_fraction * max(x1 - x0, y1 - y0), 0.08 * max(width, height), 8.0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    w, h = x1 - x0, y1 - y0
    if w < h * PANEL_ASPECT:
        grow = (h * PANEL_ASPECT - w) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w / PANEL_ASPECT - h) / 2
        y0, y1 = y0 - grow, y1 + grow
    # Shift (not shrink) into the image where it fits, else take the whole side. Pixel
    # centres are at integer coordinates, so the image spans -0.5 .. size - 0.5.
    box = [x0, x1, y0, y1]
    for lo, hi, size in ((0, 1, width), (2, 3, height)):
        first, last = -0.5, size - 0.5
        if box[hi] - box[lo] >= size:
            box[lo], box[hi] = first, last
        elif box[lo] < first:
            box[lo], box[hi] = first, box[hi] + (first - box[lo])
        elif box[hi] > last:
            box[lo], box[hi] = box[lo] - (box[hi] - last), last
    x0, x1, y0, y1 = box
    return float(x0), float(x1), float(y0), float(y1)


def overlay_grid(
    image_paths: Sequence[Path],
    ground_truth: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    edges: Sequence[tuple[int, int]],
    colors: Mapping[str, tuple[float, float, float]],
    titles: Sequence[str],
    out: Path,
    columns: int = 3,
) -> Path:
    """Draw a grid of frames: ground truth hollow, each adapter's predictions filled.

    Args:
        image_paths: One image per panel.
        ground_truth: ``(n_frames, n_keypoints, 2)`` labels, NaN = not labelled.
        predictions: Adapter name -> ``(n_frames, n_keypoints, 2)`` predictions (NaN = missed).
        edges: Skeleton edges (keypoint index pairs), drawn between ground-truth points.
        colors: Adapter name -> RGB colour.
        titles: One caption per panel.
        out: PNG path.
        columns: Panels per row.

    Returns:
        ``out``. A thin line joins each prediction to its ground-truth point.
    """
    n = len(image_paths)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.4 * cols, 2.55 * rows + 0.5))
    names = list(predictions)
    for i, path in enumerate(image_paths):
        ax = fig.add_subplot(rows, cols, i + 1)
        image = read_image(path)
        height, width = image.shape[:2]
        ax.imshow(image, interpolation="nearest" if max(width, height) < 200 else "antialiased")
        gt = ground_truth[i]
        # Zoom on the labelled keypoints and their predictions (a far-off miss widens the view;
        # predictions of unlabelled keypoints do not).
        labelled = np.isfinite(gt).all(axis=1)
        judged = [np.where(labelled[:, None], predictions[a][i][:, :2], np.nan) for a in names]
        x0, x1, y0, y1 = _crop_box(np.stack([gt, *judged]), width, height)
        for a, b in edges:
            if np.isfinite(gt[[a, b]]).all():
                ax.plot(gt[[a, b], 0], gt[[a, b], 1], color="white", lw=1, alpha=0.7, zorder=2)
        for name in names:
            pred = predictions[name][i][:, :2]
            both = np.isfinite(pred).all(axis=1) & np.isfinite(gt).all(axis=1)
            for j in np.flatnonzero(both):
                ax.plot(
                    [gt[j, 0], pred[j, 0]],
                    [gt[j, 1], pred[j, 1]],
                    color=colors[name],
                    lw=1,
                    alpha=0.8,
                    zorder=3,
                )
            ax.scatter(
                pred[:, 0],
                pred[:, 1],
                s=28,
                marker=_marker(name, colors),
                color=colors[name],
                edgecolors="black",
                linewidths=0.5,
                zorder=5,
            )
        ax.scatter(
            gt[:, 0], gt[:, 1], s=110, facecolors="none", edgecolors="black", lw=2.6, zorder=4
        )
        ax.scatter(
            gt[:, 0], gt[:, 1], s=110, facecolors="none", edgecolors="white", lw=1.3, zorder=4
        )
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)
        ax.set_title(titles[i], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [
        Line2D(
            [], [], ls="", marker="o", ms=9, mfc="none", mec="black", mew=1.5, label="ground truth"
        )
    ] + [
        Line2D(
            [],
            [],
            ls="",
            marker=_marker(name, colors),
            ms=7,
            color=colors[name],
            mec="black",
            mew=0.5,
            label=name,
        )
        for name in names
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.94, bottom=0.5 / (2.55 * rows + 0.5) + 0.02)
    return save_png(fig, out)
