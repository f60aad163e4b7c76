"""The runner: metrics from stored predictions, failure isolation, timeouts and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.io import read_dataset
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.splits import load_splits
from tests.fixtures import make_blob_dataset

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
FAILING = "tests.adapters_for_tests:FailingAdapter"
ACCURACY = ["detection_rate", "mean_px", "median_px", "rmse_px", "p90_px", "pck@5"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DeepLabCut project of 12 generated 64x48 frames (4 keypoints, some unlabelled)."""
    ds = make_blob_dataset(tmp_path / "frames", n_frames=12)
    write_dlc_project(ds, tmp_path / "project")
    return tmp_path / "project"


def _config(tmp_path: Path, project: Path, adapters: list, **extra) -> Path:
    data = {
        "name": "t",
        "datasets": [{"name": "blobs", "path": str(project)}],
        "adapters": adapters,
        "threads": 1,
        **extra,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _accuracy(run_dir: Path) -> pd.DataFrame:
    metrics = pd.read_csv(run_dir / "metrics.csv")
    rows = metrics[metrics["metric"].isin(ACCURACY)]
    return rows.sort_values(["adapter", "fold", "keypoint", "metric"]).reset_index(drop=True)


def test_run_computes_metrics_from_stored_predictions(tmp_path, project):
    config = RunConfig.load(_config(tmp_path, project, [{"name": MEAN, "label": "mean"}]))
    run_dir = tmp_path / "out"
    metrics = run(config, run_dir, quiet=True)

    job = json.loads((run_dir / "jobs/blobs__fold0__mean__seed0/job.json").read_text())
    assert job["status"] == "done"
    assert job["timing"]["threads"] == 1 and job["timing"]["predict_fps"] > 0
    assert job["notes"] == {"kind": "mean pose"}
    assert job["provenance"]["dataset_hash"] == read_dataset(project).content_hash()

    # Recompute mean_px independently from the stored predictions and the split.
    ds = read_dataset(project)
    (split,) = load_splits(run_dir / "splits/blobs.json", ds)
    pred = read_predictions(run_dir / "jobs/blobs__fold0__mean__seed0/predictions.csv")
    assert list(pred.frame_ids) == list(split.test)
    # The h5 twin holds the same predictions, and movement's file reader loads it.
    from movement.io import load_poses

    h5 = run_dir / "jobs/blobs__fold0__mean__seed0/predictions.h5"
    np.testing.assert_allclose(read_predictions(h5).values, pred.values, rtol=1e-12)
    poses = load_poses.from_dlc_file(h5)
    assert list(poses.keypoints.values) == list(ds.keypoints)
    assert poses.position.sizes["time"] == len(split.test)
    test = ds.subset(split.test)
    err = np.linalg.norm(pred.values[..., :2] - test.points, axis=-1)
    expected = np.nanmean(err)
    overall = metrics[(metrics["keypoint"] == "all") & (metrics["metric"] == "mean_px")]
    assert overall["value"].item() == pytest.approx(expected)

    frame_errors = pd.read_csv(run_dir / "frame_errors.csv")
    assert len(frame_errors) == int(test.labeled.sum())
    assert set(metrics.columns) == {
        "run", "dataset", "fold", "adapter", "seed", "keypoint", "metric", "value"
    }  # fmt: skip
    for name in ("train_s", "train_cpu_s", "load_s", "predict_fps", "peak_rss_mb", "n_params"):
        assert name in set(metrics["metric"])


@pytest.mark.parametrize("mode", ["raise", "segfault"])
def test_a_failing_adapter_fails_only_its_job(tmp_path, project, mode):
    adapters = [
        {"name": FAILING, "label": "bad", "config": {"mode": mode}},
        {"name": MEAN, "label": "mean"},
    ]
    run_dir = tmp_path / "out"
    metrics = run(RunConfig.load(_config(tmp_path, project, adapters)), run_dir, quiet=True)
    bad = json.loads((run_dir / "jobs/blobs__fold0__bad__seed0/job.json").read_text())
    assert bad["status"] == "failed"
    if mode == "raise":
        assert "deliberate failure" in bad["error"]
        assert "Traceback" in bad["stderr_tail"]
    else:
        assert "SIGSEGV" in bad["error"]
    assert set(metrics["adapter"]) == {"mean"}


def test_a_hanging_job_times_out(tmp_path, project):
    adapters = [
        {"name": FAILING, "label": "hang", "config": {"mode": "hang"}, "timeout_s": 3},
        {"name": MEAN, "label": "mean"},
    ]
    run_dir = tmp_path / "out"
    run(RunConfig.load(_config(tmp_path, project, adapters)), run_dir, quiet=True)
    hang = json.loads((run_dir / "jobs/blobs__fold0__hang__seed0/job.json").read_text())
    assert hang["status"] == "failed" and "timed out after 3 s" in hang["error"]


def test_kfold_and_seeds_make_one_job_each(tmp_path, project):
    path = _config(
        tmp_path, project, [{"name": MEAN, "label": "mean"}], split={"folds": 2}, seeds=[0, 1]
    )
    run_dir = tmp_path / "out"
    metrics = run(RunConfig.load(path), run_dir, quiet=True)
    assert len(list((run_dir / "jobs").glob("*/job.json"))) == 4
    assert sorted(metrics[["fold", "seed"]].drop_duplicates().itertuples(index=False)) == [
        (f, s) for f in range(2) for s in range(2)
    ]


def test_rerun_skips_finished_jobs(tmp_path, project):
    config = RunConfig.load(_config(tmp_path, project, [{"name": MEAN, "label": "mean"}]))
    run_dir = tmp_path / "out"
    run(config, run_dir, quiet=True)
    job_json = run_dir / "jobs/blobs__fold0__mean__seed0/job.json"
    before = job_json.stat().st_mtime_ns
    run(config, run_dir, quiet=True)
    assert job_json.stat().st_mtime_ns == before


def test_a_run_dir_of_another_config_is_refused(tmp_path, project):
    run_dir = tmp_path / "out"
    run(RunConfig.load(_config(tmp_path, project, [{"name": MEAN, "label": "a"}])), run_dir)
    other = RunConfig.load(_config(tmp_path, project, [{"name": MEAN, "label": "b"}]))
    with pytest.raises(Exception, match="different config"):
        run(other, run_dir, quiet=True)


def test_a_finished_run_resumes_with_new_after_training_settings(tmp_path, project):
    """Changing only what happens after training (tracking, overlays) redoes no job."""
    adapters = [{"name": MEAN, "label": "mean"}]
    run_dir = tmp_path / "out"
    run(RunConfig.load(_config(tmp_path, project, adapters)), run_dir, quiet=True)
    job_json = run_dir / "jobs/blobs__fold0__mean__seed0/job.json"
    before = job_json.stat().st_mtime_ns
    changed = _config(tmp_path, project, adapters, track_videos=["blobs"], overlay_frames=2)
    run(RunConfig.load(changed), run_dir, quiet=True)
    assert job_json.stat().st_mtime_ns == before
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["config"]["track_videos"] == ["blobs"]
    assert manifest["config"]["overlay_frames"] == 2


def test_sigkill_mid_run_then_resume_gives_the_same_tables(tmp_path, project):
    """Kill the runner (SIGKILL) during its second job, rerun, compare with a clean run."""
    adapters = [
        {"name": MEAN, "label": "first"},
        {"name": MEAN, "label": "second", "config": {"sleep_s": 5.0, "epochs": 25}},
    ]
    config_path = _config(tmp_path, project, adapters)
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(config_path), "--out", str(run_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = run_dir / "jobs/blobs__fold0__second__seed0/progress.json"
    deadline = time.monotonic() + 120
    while not second.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert second.exists(), "the second job never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (run_dir / "jobs/blobs__fold0__first__seed0/job.json").is_file()
    assert not (run_dir / "jobs/blobs__fold0__second__seed0/job.json").exists()

    # The resumed run redoes only the killed job.
    first_mtime = (run_dir / "jobs/blobs__fold0__first__seed0/job.json").stat().st_mtime_ns
    run(RunConfig.load(config_path), run_dir, quiet=True)
    assert (run_dir / "jobs/blobs__fold0__first__seed0/job.json").stat().st_mtime_ns == first_mtime

    clean_dir = tmp_path / "clean"
    run(RunConfig.load(config_path), clean_dir, quiet=True)
    pd.testing.assert_frame_equal(_accuracy(run_dir), _accuracy(clean_dir))
    split_file = "splits/blobs.json"
    assert (run_dir / split_file).read_bytes() == (clean_dir / split_file).read_bytes()
