"""Overlay grids of ground truth and predictions on test frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import Collection
from PIL import Image

from benchmark.dataset import Dataset
from benchmark.report.overlays import _crop_box, keypoint_palette, overlay_figure, overlay_grid


def test_crop_box_stays_inside_the_image_and_keeps_the_points() -> None:
    points = np.array([[[5.0, 5.0], [20.0, 12.0]]])
    x0, x1, y0, y1 = _crop_box(points, 640, 480)
    assert -0.5 <= x0 <= 5 and 20 <= x1 <= 639.5
    assert -0.5 <= y0 <= 5 and 12 <= y1 <= 479.5
    assert (x1 - x0) / (y1 - y0) == pytest.approx(4 / 3)
    assert _crop_box(np.full((1, 2, 2), np.nan), 64, 48) == (-0.5, 63.5, -0.5, 47.5)


def test_overlay_grid_writes_a_png_with_one_panel_per_frame_and_adapter(
    blob_dataset: Dataset, tmp_path: Path
) -> None:
    frames = blob_dataset.subset(blob_dataset.frame_ids[:4])
    out = overlay_grid(
        frames.image_paths,
        frames.points,
        {"a": frames.points + 1.0, "b": frames.points - 1.0},
        frames.skeleton.edges,
        frames.keypoints,
        [f"frame {i}" for i in range(4)],
        tmp_path / "grid.png",
    )
    with Image.open(out) as im:
        width, height = im.size
    assert out == tmp_path / "grid.png"
    assert height > width > 300  # 4 rows of frames x 2 adapter columns


def _colors(collection: Collection) -> set[tuple[float, ...]]:
    """The distinct RGB fill colours of a scatter's markers."""
    return {tuple(np.round(c[:3], 3)) for c in collection.get_facecolors()}


def test_overlay_tells_keypoints_apart_by_colour_with_a_legend(blob_dataset: Dataset) -> None:
    frames = blob_dataset.subset(blob_dataset.frame_ids[:3])
    points = np.where(np.isnan(frames.points), 20.0, frames.points)  # every keypoint labelled
    frames = frames.with_points(points)
    missed = points + 2.0
    missed[:, 0] = np.nan  # adapter "b" never finds the first keypoint
    fig = overlay_figure(
        frames.image_paths,
        frames.points,
        {"a": points + 1.0, "b": missed},
        frames.skeleton.edges,
        frames.keypoints,
        ["f0", "f1", "f2"],
        adapter_colors={"a": (1.0, 0.0, 0.0), "b": (0.0, 0.0, 1.0)},
    )
    panels = fig.axes
    assert len(panels) == 3 * 2
    assert [ax.get_title() for ax in panels[:2]] == ["a", "b"]
    # Panels of one frame share the crop, so adapters compare side by side.
    for row in range(3):
        a, b = panels[2 * row], panels[2 * row + 1]
        assert a.get_xlim() == b.get_xlim() and a.get_ylim() == b.get_ylim()
    palette = {tuple(np.round(c, 3)) for c in keypoint_palette(len(frames.keypoints))}
    assert len(palette) == len(frames.keypoints)
    # The prediction dots: one colour per keypoint (all four in "a", three in "b").
    dots_a, dots_b = (ax.collections[-1] for ax in panels[:2])
    assert _colors(dots_a) == palette
    assert len(_colors(dots_b)) == len(frames.keypoints) - 1
    (legend,) = fig.legends
    names = [t.get_text() for t in legend.get_texts()]
    assert names[-len(frames.keypoints) :] == list(frames.keypoints)
    assert "missed" in names
    # The miss is written on the panel.
    assert any("1 missed" in t.get_text() for t in panels[1].texts)
    assert not any("missed" in t.get_text() for t in panels[0].texts)
