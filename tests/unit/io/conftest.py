"""Fixtures for the dataset reader/writer tests: tiny generated projects on disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmark.dataset import Dataset
from benchmark.io.dlc import write_dlc_project
from tests.fixtures import make_blob_dataset

SIZE = (40, 32)  # the smallest size make_blob_dataset can place its discs in


def two_video_dataset(folder: Path) -> Dataset:
    """5 + 3 frames of 40x32 px in folders ``vid1`` and ``vid2``; some points unlabelled."""
    a = make_blob_dataset(folder, n_frames=5, size=SIZE, seed=0, missing_fraction=0.2)
    b = make_blob_dataset(folder, n_frames=3, size=SIZE, seed=1, video="vid2", missing_fraction=0.2)
    return replace(
        a,
        frame_ids=a.frame_ids + b.frame_ids,
        image_paths=a.image_paths + b.image_paths,
        points=np.concatenate([a.points, b.points]),
    )


@pytest.fixture
def small_dataset(tmp_path: Path) -> Dataset:
    """The two-video dataset (8 frames, 40x32 px, 4 keypoints) with images under tmp_path/src."""
    return two_video_dataset(tmp_path / "src")


@pytest.fixture
def dlc_project(tmp_path: Path, small_dataset: Dataset) -> tuple[Path, Dataset]:
    """A DeepLabCut project written by our writer from ``small_dataset`` (scorer ``kp``).

    Returns the project folder and the dataset it holds.
    """
    config = write_dlc_project(small_dataset, tmp_path / "proj", scorer="kp")
    return config.parent, small_dataset
