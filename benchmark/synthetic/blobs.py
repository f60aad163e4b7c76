"""Tiny generated datasets of coloured discs, for tests and adapter conformance checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmark.dataset import Dataset, Skeleton

KEYPOINTS = ("snout", "left_ear", "right_ear", "tail_base")
EDGES = (("snout", "left_ear"), ("snout", "right_ear"), ("left_ear", "tail_base"))
COLORS = ((255, 60, 60), (60, 255, 60), (60, 60, 255), (255, 255, 60))


def make_blob_dataset(
    folder: Path,
    n_frames: int = 12,
    size: tuple[int, int] = (64, 48),
    seed: int = 0,
    missing_fraction: float = 0.1,
    video: str = "vid1",
    name: str = "blobs",
) -> Dataset:
    """Frames with one coloured disc per keypoint on a noisy grey background.

    The discs sit at the labelled points (exactly), so a model can learn them in a few
    epochs. About ``missing_fraction`` of the points are NaN (not labelled) and their disc is
    not drawn. Images are PNGs under ``folder/labeled-data/<video>/imgNNNN.png`` and frame
    ids are those paths relative to ``folder``, as in a DeepLabCut project.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    out = Path(folder) / "labeled-data" / video
    out.mkdir(parents=True, exist_ok=True)
    margin = 6
    centre = rng.uniform([margin + 8, margin + 8], [w - margin - 8, h - margin - 8], (n_frames, 2))
    offsets = np.array([[0, -6], [-5, -2], [5, -2], [0, 7]], dtype=float)
    points = centre[:, None, :] + offsets[None] + rng.normal(0, 1.0, (n_frames, 4, 2))
    points = np.clip(points, 1, [w - 2, h - 2])
    missing = rng.random((n_frames, 4)) < missing_fraction
    points[missing] = np.nan
    ids, paths = [], []
    for i in range(n_frames):
        noise = rng.integers(90, 130, (h, w, 3), dtype=np.uint8)
        im = Image.fromarray(noise)
        draw = ImageDraw.Draw(im)
        for j, (x, y) in enumerate(points[i]):
            if not np.isnan(x):
                draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=COLORS[j])
        path = out / f"img{i:04d}.png"
        im.save(path)
        ids.append(f"labeled-data/{video}/{path.name}")
        paths.append(path.resolve())
    return Dataset(
        name=name,
        skeleton=Skeleton.from_names(KEYPOINTS, EDGES),
        frame_ids=tuple(ids),
        image_paths=tuple(paths),
        points=points,
        source=Path(folder),
        format="generated",
        meta={"species": "none (generated discs)", "synthetic": True},
    )
