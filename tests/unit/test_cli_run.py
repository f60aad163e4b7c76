"""``kpbench run`` as a user runs it: a subprocess, from a folder outside the repository.

These are the guarantees that protect a user's files and tell the truth about a run: an
existing folder that is not a run is never written into, relative paths work from any
folder, failed jobs give a non-zero exit code with a summary, Ctrl-C stops cleanly and the
run resumes, and a log gets plain lines rather than a carriage-return progress bar.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmark.io.dlc import write_dlc_project
from benchmark.paths import code_root
from tests.fixtures import interruptible, make_blob_dataset

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
FAILING = "tests.adapters_for_tests:FailingAdapter"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DeepLabCut project of 10 generated 64x48 frames (4 keypoints, some unlabelled)."""
    ds = make_blob_dataset(tmp_path / "frames", n_frames=10)
    return write_dlc_project(ds, tmp_path / "project").parent


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty working directory outside the repository."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    assert code_root() not in folder.resolve().parents
    return folder


def _config(folder: Path, project: Path, adapters: list, **extra) -> Path:
    data = {
        "name": "t",
        "datasets": [{"name": "blobs", "path": str(project)}],
        "adapters": adapters,
        "threads": 1,
        **extra,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _kpbench(cwd: Path, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    # PYTHONPATH only so that the test adapters (tests.adapters_for_tests) import.
    env = {**os.environ, "PYTHONPATH": str(code_root())}
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_out_into_a_deeplabcut_project_is_refused_and_nothing_changes(project, elsewhere):
    before = _tree(project)
    config = _config(elsewhere, project, [{"name": MEAN}])
    proc = _kpbench(elsewhere, "run", str(config), "--out", str(project))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "is not a kpbench run" in proc.stderr and str(project) in proc.stderr
    assert _tree(project) == before


def test_out_naming_a_file_is_refused(project, elsewhere):
    victim = elsewhere / "notes.txt"
    victim.write_text("my notes")
    config = _config(elsewhere, project, [MEAN])
    proc = _kpbench(elsewhere, "run", str(config), "--out", "notes.txt")
    assert proc.returncode == 2 and "exists and is not a folder" in proc.stderr
    assert victim.read_text() == "my notes"


def test_relative_out_from_another_folder_runs_every_job(project, elsewhere):
    config = _config(elsewhere, project, [{"name": MEAN, "label": "mean"}], seeds=[0, 1])
    proc = _kpbench(elsewhere, "run", "run.yaml", "--out", "runs/mine")
    assert proc.returncode == 0, proc.stderr
    run_dir = elsewhere / "runs" / "mine"
    records = [json.loads(p.read_text()) for p in run_dir.glob("jobs/*/job.json")]
    assert sorted(r["seed"] for r in records) == [0, 1]
    assert all(r["status"] == "done" for r in records)
    assert "jobs: 2 done" in proc.stdout
    assert (run_dir / "kpbench-run.yaml").is_file() and not (run_dir / "config.yaml").exists()
    # The default out is ./runs/<name> of the working directory, too.
    proc = _kpbench(elsewhere, "run", str(config), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(list((elsewhere / "runs" / "t" / "jobs").glob("*/job.json"))) == 2


def test_failed_jobs_give_exit_1_and_a_summary_line(project, elsewhere):
    adapters = [{"name": MEAN, "label": "mean"}, {"name": FAILING, "label": "broken"}]
    config = _config(elsewhere, project, adapters)
    proc = _kpbench(elsewhere, "run", str(config), "--out", "run")
    assert proc.returncode == 1
    summary = [ln for ln in proc.stderr.splitlines() if ln.startswith("kpbench:")]
    assert summary == [
        f"kpbench: 1 job(s) failed: blobs__fold0__broken__seed0 "
        f"(errors in {elsewhere.resolve() / 'run' / 'jobs'}/<job>/job.json)"
    ]
    assert "jobs: 1 done, 1 failed" in proc.stdout
    # The job that worked is kept, and a rerun redoes only the failed one (still failing).
    done = elsewhere / "run" / "jobs" / "blobs__fold0__mean__seed0" / "job.json"
    stamp = done.stat().st_mtime_ns
    assert _kpbench(elsewhere, "run", str(config), "--out", "run").returncode == 1
    assert done.stat().st_mtime_ns == stamp


def test_a_log_gets_plain_lines_one_per_epoch_and_job(project, elsewhere):
    adapters = [{"name": MEAN, "label": "mean", "config": {"epochs": 3, "sleep_s": 3.0}}]
    proc = _kpbench(elsewhere, "run", str(_config(elsewhere, project, adapters, seeds=[0, 1])))
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert "[1/2] mean on blobs fold 0 seed 0: started" in lines
    assert "[2/2] mean on blobs fold 0 seed 1: done" in lines
    epochs = [ln for ln in lines if ln.startswith("[1/2]") and " epoch " in ln]
    assert 1 <= len(epochs) <= 3  # at most one line per epoch, not one per second


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_the_worker_and_the_run_resumes(project, elsewhere, sig):
    """SIGTERM (``kill``, a scheduler ending the job) stops a run as Ctrl-C (SIGINT) does."""
    # Epoch 1 ends after 4 s, epoch 2 after 8 s: Ctrl-C comes between the two.
    adapters = [{"name": MEAN, "label": "mean", "config": {"epochs": 2, "sleep_s": 8.0}}]
    config = _config(elsewhere, project, adapters)
    proc = _run_until_first_epoch(elsewhere, config)
    progress = elsewhere / "run" / "jobs" / "blobs__fold0__mean__seed0" / "progress.json"
    worker_pid = _worker_pid(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "interrupted" in err and "run the same command again to resume" in err
    time.sleep(0.5)
    assert not _alive(worker_pid), f"the worker kept running after {sig.name}"
    assert not (progress.parent / "job.json").exists()

    rerun = _kpbench(elsewhere, "run", str(config), "--out", "run", timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads((progress.parent / "job.json").read_text())["status"] == "done"


def _run_until_first_epoch(cwd: Path, config: Path) -> subprocess.Popen:
    """``kpbench run CONFIG --out run`` started in ``cwd``, once its (first) job has finished
    an epoch."""
    env = {**os.environ, "PYTHONPATH": str(code_root())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "run", str(config), "--out", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    progress = cwd / "run" / "jobs" / "blobs__fold0__mean__seed0" / "progress.json"
    deadline = time.monotonic() + 120
    while "epoch" not in (progress.read_text() if progress.is_file() else ""):
        assert time.monotonic() < deadline and proc.poll() is None, "the job never started"
        time.sleep(0.2)
    return proc


def _worker_pid(runner_pid: int) -> int:
    import psutil

    workers = [
        p
        for p in psutil.Process(runner_pid).children(recursive=True)
        if "benchmark.runner.worker" in " ".join(p.cmdline())
    ]
    assert len(workers) == 1
    return workers[0].pid


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_second_run_on_a_folder_in_use_is_refused_and_the_first_finishes(project, elsewhere):
    # A second terminal (or a resubmitted cluster job) on the same --out while a job trains.
    adapters = [{"name": MEAN, "label": "mean", "config": {"epochs": 2, "sleep_s": 6.0}}]
    config = _config(elsewhere, project, adapters)
    first = _run_until_first_epoch(elsewhere, config)
    job = elsewhere / "run" / "jobs" / "blobs__fold0__mean__seed0"
    second = _kpbench(elsewhere, "run", str(config), "--out", "run")
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert f"another kpbench run is writing this run folder (process {first.pid})" in (
        second.stderr
    )
    assert (job / "spec.json").is_file()  # the running job's folder is untouched
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads((job / "job.json").read_text())["status"] == "done"
    # Once the first has ended, the folder is free again (and resumes: nothing to redo).
    again = _kpbench(elsewhere, "run", str(config), "--out", "run")
    assert again.returncode == 0 and "resuming: 1 of 1 jobs already done" in again.stderr
