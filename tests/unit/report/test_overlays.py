"""Overlay grids of ground truth and predictions on test frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.dataset import Dataset
from benchmark.report.overlays import _crop_box, overlay_grid


def test_crop_box_stays_inside_the_image_and_keeps_the_points() -> None:
    points = np.array([[[5.0, 5.0], [20.0, 12.0]]])
    x0, x1, y0, y1 = _crop_box(points, 640, 480)
    assert -0.5 <= x0 <= 5 and 20 <= x1 <= 639.5
    assert -0.5 <= y0 <= 5 and 12 <= y1 <= 479.5
    assert (x1 - x0) / (y1 - y0) == pytest.approx(4 / 3)
    assert _crop_box(np.full((1, 2, 2), np.nan), 64, 48) == (-0.5, 63.5, -0.5, 47.5)


def test_overlay_grid_writes_a_png_with_one_panel_per_frame(
    blob_dataset: Dataset, tmp_path: Path
) -> None:
    frames = blob_dataset.subset(blob_dataset.frame_ids[:4])
    missed = frames.points.copy()
    missed[:, 0] = np.nan  # adapter "b" never finds the first keypoint
    out = overlay_grid(
        frames.image_paths,
        frames.points,
        {"a": frames.points + 1.0, "b": missed},
        frames.skeleton.edges,
        {"a": (1.0, 0.0, 0.0), "b": (0.0, 0.0, 1.0)},
        [f"frame {i}" for i in range(4)],
        tmp_path / "grid.png",
        columns=2,
    )
    with Image.open(out) as im:
        width, height = im.size
    assert out == tmp_path / "grid.png"
    assert width > 300 and height > 300  # 2 x 2 panels
