"""The runner: metrics from stored predictions, failure isolation, timeouts and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.errors import InputError
from benchmark.io import read_dataset
from benchmark.io.predictions import read_predictions
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.runner.worker import dataset_from_plain, dataset_to_plain
from benchmark.splits import load_splits

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
FAILING = "tests.adapters_for_tests:FailingAdapter"
ACCURACY = ["detection_rate", "mean_px", "median_px", "rmse_px", "p90_px", "pck@5"]


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
    assert job["notes"] == {"kind": "mean pose", "epochs_run": 3}
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
    assert list(metrics.columns) == [
        "run", "dataset", "fold", "adapter", "seed", "train_size", "inner_fold",
        "test_dataset", "keypoint", "metric", "value",
    ]  # fmt: skip
    # A run without studies: every job on its fold's whole training set, its own test set.
    assert metrics["train_size"].isna().all() and metrics["inner_fold"].isna().all()
    assert (metrics["test_dataset"] == metrics["dataset"]).all()
    for name in ("train_s", "train_cpu_s", "load_s", "predict_fps", "peak_rss_mb", "n_params"):
        assert name in set(metrics["metric"])


def test_a_datasets_flip_pairs_reach_the_worker(tmp_path, project):
    """The config's pairs replace the name rule's and travel in the job's dataset."""
    path = _config(tmp_path, project, [{"name": MEAN, "label": "mean"}])
    data = yaml.safe_load(path.read_text())
    data["datasets"][0]["flip_pairs"] = [["tail_base", "snout"]]
    path.write_text(yaml.safe_dump(data))
    run_dir = tmp_path / "out"
    run(RunConfig.load(path), run_dir, quiet=True)
    spec = json.loads((run_dir / "jobs/blobs__fold0__mean__seed0/spec.json").read_text())
    assert spec["train"]["symmetries"] == [[3, 0]]
    assert dataset_from_plain(spec["train"]).skeleton.flip_pairs() == [(3, 0)]


def test_flip_pairs_naming_an_unknown_keypoint_stop_the_run_before_it_writes(tmp_path, project):
    path = _config(tmp_path, project, [{"name": MEAN, "label": "mean"}])
    data = yaml.safe_load(path.read_text())
    data["datasets"][0]["flip_pairs"] = [["left_ear", "rightear"]]
    path.write_text(yaml.safe_dump(data))
    run_dir = tmp_path / "out"
    with pytest.raises(InputError, match=r"dataset 'blobs': flip_pairs: .*'rightear'") as err:
        run(RunConfig.load(path), run_dir, quiet=True)
    assert "keypoints: snout, left_ear, right_ear, tail_base" in str(err.value)
    assert not run_dir.exists()


def test_the_workers_dataset_keeps_declared_pairs_or_their_absence(blob_dataset):
    back = dataset_from_plain(dataset_to_plain(blob_dataset))
    assert back.skeleton == blob_dataset.skeleton and back.skeleton.symmetries is None
    declared = replace(blob_dataset, skeleton=blob_dataset.skeleton.with_symmetries([]))
    assert dataset_from_plain(dataset_to_plain(declared)).skeleton.symmetries == ()


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


def test_a_spent_budget_stops_a_job_which_is_done_with_its_curve(tmp_path, project):
    """Mean pose sleeps 0.04 s per epoch for 200 epochs; a 1 s budget stops it early."""
    entry = {"name": MEAN, "label": "mean", "config": {"epochs": 200, "sleep_s": 8.0}}
    config = RunConfig.load(_config(tmp_path, project, [entry], budget={"train_s": 1.0}))
    run_dir = tmp_path / "out"
    run(config, run_dir, quiet=True)
    (job_json,) = run_dir.glob("jobs/*/job.json")
    job = json.loads(job_json.read_text())
    assert job["status"] == "done"
    training = job["training"]
    assert training["stopped_by_budget"] and training["budget_s"] == 1.0
    assert 10 <= training["epochs_done"] < 200 and training["epochs_planned"] == 200
    assert 1.0 <= job["timing"]["train_s"] < 2.0
    # Snapshots at 5, 10, 25, 50 and 75% of the budget, timestamped by the harness.
    times = [p["train_s"] for p in job["curve"]]
    assert len(times) == 5 and times == sorted(times)
    assert all(t >= m for t, m in zip(times, [0.05, 0.1, 0.25, 0.5, 0.75], strict=True))
    curves = pd.read_csv(run_dir / "curves.csv")
    assert set(curves["epoch"]) == {p["epoch"] for p in job["curve"]} | {training["epochs_done"]}
    final = curves[curves["final"] & (curves["metric"] == "mean_px")]
    metrics = pd.read_csv(run_dir / "metrics.csv")
    headline = metrics[(metrics["metric"] == "mean_px") & (metrics["keypoint"] == "all")]
    assert float(final["value"].iloc[0]) == pytest.approx(float(headline["value"].iloc[0]))
    assert float(final["train_s"].iloc[0]) == pytest.approx(job["timing"]["train_s"])
    # The snapshots saw fewer frames than the final model: their curve points differ.
    first = curves[(curves["epoch"] == job["curve"][0]["epoch"]) & (curves["metric"] == "mean_px")]
    assert float(first["value"].iloc[0]) != float(final["value"].iloc[0])
    by_metric = metrics[metrics["keypoint"] == "all"].set_index("metric")["value"]
    assert by_metric["stopped_by_budget"] == 1.0 and by_metric["budget_s"] == 1.0


def test_a_job_that_finishes_its_schedule_in_budget_is_not_stopped(tmp_path, project):
    entry = {"name": MEAN, "label": "mean", "config": {"epochs": 4}}
    config = RunConfig.load(_config(tmp_path, project, [entry], budget={"train_s": 600}))
    run_dir = tmp_path / "out"
    run(config, run_dir, quiet=True)
    (job_json,) = run_dir.glob("jobs/*/job.json")
    job = json.loads(job_json.read_text())
    assert job["status"] == "done" and not job["training"]["stopped_by_budget"]
    assert job["training"]["epochs_done"] == 4
    assert [p["epoch"] for p in job["curve"]] == [1, 2, 3]  # 25, 50, 75% of the epochs


def test_headline_metrics_count_every_location_and_own_cutoff_is_a_second_view(tmp_path, project):
    """video-mean-pose scores every point 0.8 under its own cutoff 0.9."""
    entry = {"name": "tests.adapters_for_tests:VideoMeanPoseAdapter", "label": "vmp"}
    config = RunConfig.load(_config(tmp_path, project, [entry]))
    run_dir = tmp_path / "out"
    run(config, run_dir, quiet=True)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    overall = metrics[metrics["keypoint"] == "all"].set_index("metric")["value"]
    assert overall["detection_rate"] == 1.0 and overall["cutoff_detection_rate"] == 0.0
    assert overall["score_cutoff"] == 0.9
    assert np.isfinite(overall["mean_px_all"]) and overall["mean_px_all"] == overall["mean_px"]
    errors = pd.read_csv(run_dir / "frame_errors.csv")
    assert {"error_px", "scored_px"} <= set(errors.columns)


def test_timeout_must_leave_room_above_the_budget(tmp_path, project):
    from benchmark.errors import InputError

    entry = {"name": MEAN, "timeout_s": 100}
    with pytest.raises(InputError, match=r"timeout_s \(100 s\) must exceed the training budget"):
        RunConfig.load(_config(tmp_path, project, [entry], budget={"train_s": 100}))
