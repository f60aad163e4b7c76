"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.dataset import Dataset
from tests.fixtures import make_blob_dataset


@pytest.fixture
def blob_dataset(tmp_path: Path) -> Dataset:
    """12 frames of 64x48 px, 4 keypoints drawn as coloured discs, about 10% unlabelled."""
    return make_blob_dataset(tmp_path / "blobs")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on a read-only bind mount: writing there fails even for root (whom
    chmod does not stop). Skipped where this process may not mount."""
    import os
    import subprocess

    def mount(*args: str) -> str:
        try:
            proc = subprocess.run(["mount", *args], capture_output=True, text=True)
        except OSError as exc:
            return str(exc)
        if proc.returncode == 0:
            return ""
        return proc.stderr.strip() or f"mount exited with {proc.returncode}"

    source, folder = tmp_path / "ro-source", tmp_path / "read-only"
    source.mkdir()
    folder.mkdir()
    if problem := mount("--bind", "-o", "ro", str(source), str(folder)):
        pytest.skip(f"cannot bind-mount a read-only folder here: {problem}")
    try:
        if not os.statvfs(folder).f_flag & os.ST_RDONLY:  # older mounts: a second step
            mount("-o", "remount,bind,ro", str(folder))
        if not os.statvfs(folder).f_flag & os.ST_RDONLY:
            pytest.skip("cannot make a bind mount read-only here")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


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
