"""Format detection and the read_dataset entry point."""

from __future__ import annotations

import pytest

from benchmark.errors import InputError
from benchmark.io import detect_format, read_dataset
from benchmark.io.sleap import write_pkg_slp


def test_detect_format(tmp_path, dlc_project, monkeypatch):
    monkeypatch.setenv("KPBENCH_CACHE", str(tmp_path / "cache"))
    project, ds = dlc_project
    assert detect_format(project) == "deeplabcut"
    assert detect_format(project / "config.yaml") == "deeplabcut"
    assert detect_format(project / "labeled-data/vid1/CollectedData_kp.csv") == "deeplabcut-csv"
    assert detect_format(project / "labeled-data/vid1/CollectedData_kp.h5") == "deeplabcut-csv"
    assert detect_format(write_pkg_slp(ds, tmp_path / "a.pkg.slp")) == "sleap"
    with pytest.raises(InputError, match="unknown dataset format"):
        detect_format(project / "labeled-data/vid1/img0000.png")


def test_project_via_config_path_and_name(dlc_project):
    project, ds = dlc_project
    by_dir = read_dataset(project)
    by_config = read_dataset(project / "config.yaml", name="mine")
    assert by_config.name == "mine"
    assert by_dir.name == ds.name  # the config's Task
    assert by_config.content_hash() == by_dir.content_hash()
    assert by_dir.source == project.resolve()


def test_skeleton_from_config_ignores_stale_edges(dlc_project):
    project, _ = dlc_project
    config = project / "config.yaml"
    text = config.read_text().replace("skeleton:\n", "skeleton:\n- - snout\n  - gone\n", 1)
    config.write_text(text)
    ds = read_dataset(project)
    assert ("snout", "gone") not in ds.skeleton.edge_names
    assert ("snout", "left_ear") in ds.skeleton.edge_names


def test_validate_can_be_skipped(dlc_project):
    project, ds = dlc_project
    (project / ds.frame_ids[0]).write_bytes(b"broken")
    with pytest.raises(InputError):
        read_dataset(project)
    assert read_dataset(project, validate=False).n_frames == ds.n_frames
