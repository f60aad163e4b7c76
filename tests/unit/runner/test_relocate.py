"""A run folder can be copied or moved: every path it stores about itself is relative."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.io.predictions import read_predictions
from benchmark.records import JobRecord, read_record, write_record
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.synthetic import generate
from benchmark.video import track_video
from benchmark.video.model import find_model

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
SIZE = (160, 120)
JOB = "rat__fold0__mean__seed0"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, Path]:
    """A finished run of the mean-pose adapter (label ``mean``) on a synthetic rat project
    of 12 labelled 160x120 frames; returns the run folder and the project's video."""
    root = tmp_path_factory.mktemp("relocate")
    project = generate("rat", root / "rat", n_frames=12, size=SIZE)
    config = {
        "name": "moving",
        "datasets": [{"name": "rat", "path": str(project)}],
        "adapters": [{"name": MEAN, "label": "mean", "config": {"epochs": 2}}],
        "threads": 1,
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    run(RunConfig.load(root / "run.yaml"), root / "run", quiet=True)
    return root / "run", project / "videos" / "rat_openfield.mp4"


def _shift_model(run_dir: Path, dx: float) -> np.ndarray:
    """Move the run's mean-pose model by ``dx`` (relative x); returns its pose in pixels."""
    path = run_dir / "jobs" / JOB / "work" / "model" / "mean.json"
    mean = np.array(json.loads(path.read_text())) + np.array([dx, 0.0])
    path.write_text(json.dumps(mean.tolist()))
    return mean * np.array(SIZE, dtype=float)


def _tracked_pose(run_dir: Path, video: Path) -> np.ndarray:
    track_video(run_dir, "mean", video, progress=False)
    pred = read_predictions(run_dir / "tracks" / f"mean__{video.stem}" / "predictions.csv")
    return pred.values[0, :, :2]


def test_no_file_of_a_run_names_the_folder_it_was_made_in(finished_run):
    run_dir, _ = finished_run
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".csv", ".yaml"):
            assert str(run_dir) not in path.read_text(errors="replace"), path


def test_a_copied_run_tracks_with_its_own_model_and_a_moved_one_still_tracks(
    finished_run, tmp_path
):
    run_dir, video = finished_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, symlinks=True)
    expected = _shift_model(copy, 0.1)  # the copy's model now differs from the original's
    np.testing.assert_allclose(_tracked_pose(copy, video), expected)

    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(copy, moved)
    assert find_model(moved, "mean").model_dir == moved / "jobs" / JOB / "work" / "model"
    np.testing.assert_allclose(_tracked_pose(moved, video), expected)


def test_an_older_run_with_absolute_model_paths_reads_from_its_own_folder(finished_run, tmp_path):
    run_dir, _ = finished_run
    copy = tmp_path / "old"
    shutil.copytree(run_dir, copy, symlinks=True)
    path = copy / "jobs" / JOB / "job.json"
    record = read_record(path, JobRecord)
    absolute = str(run_dir / "jobs" / JOB / "work" / "model")  # as older kpbench stored it
    write_record(path, dataclasses.replace(record, model_dir=absolute))
    # The original exists, but the copy is read from the copy.
    assert find_model(copy, "mean").model_dir == copy / "jobs" / JOB / "work" / "model"
    # A model stored outside any job folder is taken as stored.
    outside = dataclasses.replace(record, model_dir=str(tmp_path))
    assert outside.model_path(copy / "jobs" / JOB) == tmp_path
