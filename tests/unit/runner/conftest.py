"""Fixtures of the runner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.io.dlc import write_dlc_project
from tests.fixtures import make_blob_dataset


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DeepLabCut project of 12 generated 64x48 frames (4 keypoints, some unlabelled)."""
    ds = make_blob_dataset(tmp_path / "frames", n_frames=12)
    write_dlc_project(ds, tmp_path / "project")
    return tmp_path / "project"
