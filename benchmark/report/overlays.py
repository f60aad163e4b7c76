"""Test frames with the ground truth and each adapter's predictions, one panel per adapter."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark.images import read_image
from benchmark.report.figures import save_png
from benchmark.video.draw import keypoint_colors

PANEL_ASPECT = 4 / 3  # width / height of each panel's crop
LEGEND_ENTRY_IN = 1.15  # room one legend entry takes, inches


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


def keypoint_palette(n: int) -> list[tuple[float, float, float]]:
    """One colour per keypoint, the same as in the labelled videos (:func:`keypoint_colors`)."""
    return [(r / 255, g / 255, b / 255) for r, g, b in keypoint_colors(n)]


def _panel(
    ax: Axes,
    image: np.ndarray,
    gt: np.ndarray,
    pred: np.ndarray,
    edges: Sequence[tuple[int, int]],
    palette: Sequence[tuple[float, float, float]],
    box: tuple[float, float, float, float],
) -> None:
    """One adapter's predictions on one frame: rings = ground truth, dots = predictions."""
    height, width = image.shape[:2]
    ax.imshow(image, interpolation="nearest" if max(width, height) < 200 else "antialiased")
    for a, b in edges:
        if np.isfinite(gt[[a, b]]).all():
            ax.plot(gt[[a, b], 0], gt[[a, b], 1], color="white", lw=0.8, alpha=0.6, zorder=2)
    labelled = np.isfinite(gt).all(axis=1)
    found = np.isfinite(pred).all(axis=1)
    for j in np.flatnonzero(labelled & found):
        ax.plot(*np.stack([gt[j], pred[j]]).T, color=palette[j], lw=1.2, zorder=3)
    for j in np.flatnonzero(labelled):
        ax.scatter(*gt[j], s=95, facecolors="none", edgecolors="black", lw=2.6, zorder=4)
        ax.scatter(*gt[j], s=95, facecolors="none", edgecolors=[palette[j]], lw=1.4, zorder=4)
        if not found[j]:  # missed: a cross in the ring
            ax.scatter(*gt[j], s=30, marker="x", color="black", lw=2.6, zorder=5)
            ax.scatter(*gt[j], s=30, marker="x", color=[palette[j]], lw=1.2, zorder=5)
    ax.scatter(
        pred[found, 0],
        pred[found, 1],
        s=26,
        c=[palette[j] for j in np.flatnonzero(found)],
        edgecolors="black",
        linewidths=0.6,
        zorder=6,
    )
    judged = labelled & found
    words = []
    if judged.any():
        words.append(f"{np.linalg.norm(pred[judged] - gt[judged], axis=1).mean():.1f} px")
    if (labelled & ~found).any():
        words.append(f"{int((labelled & ~found).sum())} missed")
    if words:
        ax.text(
            0.02,
            0.97,
            ", ".join(words),
            transform=ax.transAxes,
            ha="left",
            va="top",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
            zorder=7,
        )
    x0, x1, y0, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_xticks([])
    ax.set_yticks([])


def overlay_figure(
    image_paths: Sequence[Path],
    ground_truth: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    edges: Sequence[tuple[int, int]],
    keypoints: Sequence[str],
    titles: Sequence[str],
    adapter_colors: Mapping[str, tuple[float, float, float]] | None = None,
) -> Figure:
    """One row per frame and one column per adapter, one colour per keypoint.

    In each panel a ring is a labelled keypoint, a dot of the same colour the adapter's
    prediction of it, joined by a line; a cross in a ring marks a miss. Every panel of a row
    shows the same crop. A legend names the keypoints' colours.

    Args:
        image_paths: One image per row.
        ground_truth: ``(n_frames, n_keypoints, 2)`` labels, NaN = not labelled.
        predictions: Adapter name -> ``(n_frames, n_keypoints, 2+)`` predictions (NaN = missed),
            one column each, in this order.
        edges: Skeleton edges (keypoint index pairs), drawn between ground-truth points.
        keypoints: Keypoint names, in the points' order.
        titles: One label per row (the frame).
        adapter_colors: Adapter name -> RGB colour of its panels' frame (as in the figures).

    Returns:
        The figure; ``axes`` holds the panels row by row.
    """
    names = list(predictions)
    rows, cols = len(image_paths), max(len(names), 1)
    palette = keypoint_palette(len(keypoints))
    panel_w = min(max(12.0 / cols, 2.2), 3.4)
    panel_h = panel_w / PANEL_ASPECT
    width = panel_w * cols + 0.3
    per_row = max(2, int(width / LEGEND_ENTRY_IN))  # legend entries that fit on one line
    legend_rows = math.ceil((len(keypoints) + 2) / per_row)
    fig = Figure(figsize=(width, panel_h * rows + 0.35 + 0.25 * legend_rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, path in enumerate(image_paths):
        image = read_image(path)
        height, width = image.shape[:2]
        gt = ground_truth[i]
        # Zoom on the labelled keypoints and their predictions (a far-off miss widens the view;
        # predictions of unlabelled keypoints do not).
        labelled = np.isfinite(gt).all(axis=1)
        judged = [np.where(labelled[:, None], predictions[a][i][:, :2], np.nan) for a in names]
        box = _crop_box(np.stack([gt, *judged]), width, height)
        for c, name in enumerate(names):
            ax = axes[i, c]
            _panel(ax, image, gt, predictions[name][i][:, :2], edges, palette, box)
            if adapter_colors and name in adapter_colors:
                for spine in ax.spines.values():
                    spine.set(edgecolor=adapter_colors[name], linewidth=2.5)
            if i == 0:
                ax.set_title(name, fontsize=10, fontweight="bold")
        axes[i, 0].set_ylabel(titles[i], fontsize=7)
    handles = [
        Line2D([], [], ls="", marker="o", ms=9, mfc="none", mec="black", mew=1.5, label="label"),
        Line2D([], [], ls="", marker="x", ms=6, color="black", mew=1.5, label="missed"),
    ] + [
        Line2D([], [], ls="", marker="o", ms=7, color=palette[j], mec="black", mew=0.6, label=kp)
        for j, kp in enumerate(keypoints)
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=math.ceil(len(handles) / legend_rows),
        frameon=False,
        fontsize=9,
        handletextpad=0.3,
        columnspacing=1.2,
    )
    return fig


def overlay_grid(
    image_paths: Sequence[Path],
    ground_truth: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    edges: Sequence[tuple[int, int]],
    keypoints: Sequence[str],
    titles: Sequence[str],
    out: Path,
    adapter_colors: Mapping[str, tuple[float, float, float]] | None = None,
) -> Path:
    """Save :func:`overlay_figure` of these frames as the PNG ``out``; returns ``out``."""
    fig = overlay_figure(
        image_paths, ground_truth, predictions, edges, keypoints, titles, adapter_colors
    )
    return save_png(fig, out)
