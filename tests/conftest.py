"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.dataset import Dataset
from tests.fixtures import make_blob_dataset


@pytest.fixture
def blob_dataset(tmp_path: Path) -> Dataset:
    """12 frames of 64x48 px, 4 keypoints drawn as coloured discs, about 10% unlabelled."""
    return make_blob_dataset(tmp_path / "blobs")


def shared_datasets_dir() -> Path:
    """The local mirror of real datasets: ``$KPBENCH_DATA_MIRROR`` or ``../shared/datasets``."""
    import os

    env = os.environ.get("KPBENCH_DATA_MIRROR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def openfield_mouse_dir() -> Path:
    """DeepLabCut's open-field mouse example (116 frames, 4 keypoints) from the local mirror.

    CI always has the mirror, so there the test fails when it is missing; on a user's
    machine without it the test is skipped.
    """
    import os

    path = shared_datasets_dir() / "dlc-openfield-mouse"
    if not (path / "config.yaml").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"dataset mirror not found at {path} (set KPBENCH_DATA_MIRROR)")
        pytest.skip(f"dataset mirror not found at {path}")
    return path
