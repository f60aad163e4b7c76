"""The runner on a real single-node Slurm (tests/slurm/start.sh), through submitit.

CI starts Slurm before ``make test``, so there these tests fail when it is not running;
elsewhere they are skipped with the command that starts it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark.io.dlc import write_dlc_project
from benchmark.records import JobRecord, read_record
from benchmark.report import render_report
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from tests.fixtures import interruptible, make_blob_dataset

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
FAILING = "tests.adapters_for_tests:FailingAdapter"
#: Two real adapters: our regression CNN and sleap-nn, a few epochs each.
REAL = [
    {"name": "trackrat", "config": {"epochs": 3}},
    {"name": "sleap", "config": {"epochs": 3}},
]
ACCURACY = ["detection_rate", "mean_px", "median_px", "rmse_px", "p90_px", "pck@5", "mean_px_all"]


def _slurm_up() -> bool:
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(s.strip() in ("idle", "mixed", "allocated") for s in out.stdout.splitlines())


@pytest.fixture(scope="module", autouse=True)
def slurm() -> None:
    """A running Slurm: required in CI, else the tests are skipped."""
    if _slurm_up():
        return
    message = "Slurm is not running here; start it with: sudo tests/slurm/start.sh"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (.ci/run does this)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A DeepLabCut project of 16 generated 64x48 frames (4 keypoints, some unlabelled)."""
    root = tmp_path_factory.mktemp("slurm")
    ds = make_blob_dataset(root / "frames", n_frames=16)
    write_dlc_project(ds, root / "project")
    return root / "project"


def _config(
    folder: Path, project: Path, adapters: list, executor: dict | None = None, folds: int = 2
) -> Path:
    split = {"folds": folds, "seed": 0} if folds > 1 else {"test_fraction": 0.25, "seed": 0}
    data = {
        "name": "slurm",
        "datasets": [{"name": "blobs", "path": str(project)}],
        "adapters": adapters,
        "threads": 1,
        "split": split,
    }
    if executor:
        data["executor"] = executor
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.yaml").write_text(yaml.safe_dump(data))
    return folder / "run.yaml"


def _accuracy(run_dir: Path) -> pd.DataFrame:
    metrics = pd.read_csv(run_dir / "metrics.csv")
    rows = metrics[metrics["metric"].isin(ACCURACY)]
    return rows.sort_values(["adapter", "fold", "keypoint", "metric"]).reset_index(drop=True)


def _job(run_dir: Path, job_id: str) -> JobRecord:
    return read_record(run_dir / "jobs" / job_id / "job.json", JobRecord)


def _kpbench_run(config: Path, run_dir: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(config), "--out", str(run_dir)]
    return subprocess.Popen(
        [*cmd, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=interruptible,
    )


def _wait_for(what: str, ready, limit_s: float = 180.0) -> None:
    deadline = time.monotonic() + limit_s
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen within {limit_s:.0f} s"
        time.sleep(0.5)


def _slurm_id(folder: Path) -> str | None:
    path = folder / "slurm.json"
    return json.loads(path.read_text())["slurm_job_id"] if path.is_file() else None


def _still_on_the_cluster(slurm_id: str) -> bool:
    out = subprocess.run(
        ["squeue", "-h", "-j", slurm_id, "-o", "%T"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() in ("PENDING", "CONFIGURING", "RUNNING")


def _run_one_split(tmp_path: Path, project: Path, adapters: list, executor: dict) -> Path:
    """Run ``adapters`` on one random split through ``executor``; returns the run folder."""
    config = RunConfig.load(_config(tmp_path, project, adapters, executor, folds=1))
    run(config, tmp_path / "run", quiet=True)
    return tmp_path / "run"


@pytest.fixture(scope="module")
def local_run(project, tmp_path_factory) -> Path:
    """The small real run (trackrat and sleap, 2 folds) on this machine, one job at a time."""
    root = tmp_path_factory.mktemp("local")
    run(RunConfig.load(_config(root, project, REAL)), root / "run", quiet=True)
    return root / "run"


@pytest.mark.integration
def test_a_run_through_slurm_gives_the_tables_of_a_local_run(local_run, project, tmp_path):
    config = RunConfig.load(
        _config(tmp_path, project, REAL, {"kind": "slurm", "max_parallel": 2, "poll_s": 1})
    )
    run(config, tmp_path / "run", quiet=True)
    pd.testing.assert_frame_equal(_accuracy(tmp_path / "run"), _accuracy(local_run))
    frame_errors = pd.read_csv(tmp_path / "run" / "frame_errors.csv")
    pd.testing.assert_frame_equal(frame_errors, pd.read_csv(local_run / "frame_errors.csv"))
    job = _job(tmp_path / "run", "blobs__fold1__sleap__seed0")
    assert job.status == "done" and job.execution is not None
    assert job.execution.executor == "slurm" and job.execution.slurm_job_id
    assert job.execution.node == os.uname().nodename.split(".")[0]
    assert job.provenance["host"]["node"] == job.execution.node
    local = _job(local_run, "blobs__fold1__sleap__seed0")
    assert local.execution is not None and local.execution.executor == "local"
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["config"]["executor"]["kind"] == "slurm"
    report = render_report(tmp_path / "run").read_text()
    assert f"hardware: Slurm jobs, {job.provenance['host']['cpu']}" in report
    assert f" on {job.execution.node}." in report


@pytest.mark.integration
def test_sigkill_of_the_runner_then_rerun_collects_the_cluster_jobs_without_resubmitting(
    local_run, project, tmp_path
):
    """Kill ``kpbench run`` (SIGKILL) while its first two jobs are on the cluster; the rerun
    waits for those Slurm jobs, submits only the others, and ends with the tables of an
    uninterrupted (local) run."""
    config = _config(tmp_path, project, REAL, {"kind": "slurm", "max_parallel": 2, "poll_s": 1})
    run_dir = tmp_path / "run"
    proc = _kpbench_run(config, run_dir)
    first = [run_dir / "jobs" / f"blobs__fold0__{a}__seed0" for a in ("trackrat", "sleap")]
    _wait_for("two submitted jobs", lambda: all(_slurm_id(f) for f in first))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {f.name: _slurm_id(f) for f in first}
    assert any(_still_on_the_cluster(i) for i in before.values())

    run(RunConfig.load(config), run_dir, quiet=True)
    for folder in first:
        record = _job(run_dir, folder.name)
        assert record.status == "done"
        assert record.execution is not None
        assert record.execution.slurm_job_id == before[folder.name]
        submissions = [p.name for p in (folder / "slurm").iterdir() if p.is_dir()]
        assert submissions == [before[folder.name]]
    pd.testing.assert_frame_equal(_accuracy(run_dir), _accuracy(local_run))


@pytest.mark.integration
def test_a_job_cancelled_with_scancel_fails_alone(project, tmp_path):
    adapters = [
        {"name": FAILING, "label": "hang", "config": {"mode": "hang"}, "timeout_s": 600},
        {"name": MEAN, "label": "mean"},
    ]
    executor = {"kind": "slurm", "max_parallel": 2, "poll_s": 1}
    config = _config(tmp_path, project, adapters, executor, folds=1)
    run_dir = tmp_path / "run"
    proc = _kpbench_run(config, run_dir)
    hang = run_dir / "jobs" / "blobs__fold0__hang__seed0"
    _wait_for("the hanging job to run", lambda: (hang / "progress.json").is_file())
    subprocess.run(["scancel", _slurm_id(hang)], check=True)
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr.decode()
    assert _job(run_dir, "blobs__fold0__mean__seed0").status == "done"
    record = _job(run_dir, "blobs__fold0__hang__seed0")
    assert record.status == "failed"
    assert record.error is not None and "cancelled on the cluster" in record.error, record.error
    assert record.execution is not None and record.execution.slurm_job_id == _slurm_id(hang)


@pytest.mark.integration
def test_a_job_over_its_slurm_time_limit_fails_alone(project, tmp_path):
    adapters = [
        {"name": FAILING, "label": "hang", "config": {"mode": "hang"}, "timeout_s": 600},
        {"name": MEAN, "label": "mean"},
    ]
    executor = {"kind": "slurm", "max_parallel": 2, "poll_s": 1, "time_min": 1}
    run_dir = _run_one_split(tmp_path, project, adapters, executor)
    hang = _job(run_dir, "blobs__fold0__hang__seed0")
    assert hang.status == "failed"
    assert hang.error is not None and "time limit" in hang.error, hang.error
    assert _job(run_dir, "blobs__fold0__mean__seed0").status == "done"


@pytest.mark.integration
def test_a_job_over_its_memory_is_recorded_as_killed_for_memory(project, tmp_path):
    """256 MB is less than torch's import needs: Slurm kills trackrat's job for memory."""
    adapters = [{"name": "trackrat", "config": {"epochs": 1}}]
    executor = {"kind": "slurm", "max_parallel": 2, "poll_s": 1, "mem_gb": 0.25}
    run_dir = _run_one_split(tmp_path, project, adapters, executor)
    killed = _job(run_dir, "blobs__fold0__trackrat__seed0")
    assert killed.status == "failed"
    assert killed.error is not None and "exceeding its memory" in killed.error, killed.error
    assert "memory limit" in killed.stderr_tail


@pytest.mark.integration
def test_ctrl_c_leaves_the_cluster_jobs_running_and_says_how_to_collect_them(project, tmp_path):
    adapters = [{"name": MEAN, "label": "slow", "config": {"sleep_s": 20.0, "epochs": 4}}]
    executor = {"kind": "slurm", "max_parallel": 2, "poll_s": 1}
    config = _config(tmp_path, project, adapters, executor)
    run_dir = tmp_path / "run"
    proc = _kpbench_run(config, run_dir)
    folders = [run_dir / "jobs" / f"blobs__fold{k}__slow__seed0" for k in (0, 1)]
    _wait_for("two submitted jobs", lambda: all(_slurm_id(f) for f in folders))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "2 job(s) stay queued or running on the cluster" in stderr.decode()
    ids = [_slurm_id(f) for f in folders]
    assert all(_still_on_the_cluster(i) for i in ids)
    run(RunConfig.load(config), run_dir, quiet=True)
    for folder, slurm_id in zip(folders, ids, strict=True):
        record = _job(run_dir, folder.name)
        assert record.status == "done" and record.execution is not None
        assert record.execution.slurm_job_id == slurm_id
