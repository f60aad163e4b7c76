"""Executors: local slots, the Slurm executor's parameters and stored ids (no cluster needed
here; tests/integration/test_slurm.py runs a real Slurm)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.errors import InputError
from benchmark.records import JobRecord, read_record
from benchmark.runner.config import ExecutorSpec, RunConfig
from benchmark.runner.executors import WorkerCommand, make_executor
from benchmark.runner.executors.base import run_to_end
from benchmark.runner.executors.slurm import SLURM_JSON, SlurmExecutor
from benchmark.runner.run import run
from tests.unit.runner.test_run import FAILING, MEAN, _config

SLURM = ExecutorSpec(kind="slurm")


def _command(folder: Path, timeout_s: float = 600.0) -> WorkerCommand:
    return WorkerCommand(
        job_id="blobs__fold0__mean__seed0",
        python="/envs/sleap/bin/python",
        spec_path=folder / "spec.json",
        folder=folder,
        threads=2,
        timeout_s=timeout_s,
    )


def test_slurm_parameters_leave_the_harness_timeout_room_and_pass_the_config_through(tmp_path):
    executor = SlurmExecutor(
        ExecutorSpec(
            kind="slurm",
            partition="gpu",
            gpus_per_job=1,
            mem_gb=16,
            extra={"account": "lab"},
            setup=("module load x",),
        )
    )
    params = executor.parameters(_command(tmp_path, timeout_s=3600))
    assert params["timeout_min"] == 65  # the job's own timeout ends it before Slurm does
    assert params["cpus_per_task"] == 2  # the run's threads
    assert params["gpus_per_node"] == 1 and params["slurm_partition"] == "gpu"
    assert params["mem_gb"] == 16 and params["slurm_additional_parameters"] == {"account": "lab"}
    assert params["slurm_setup"] == ["module load x"]
    assert params["slurm_signal_delay_s"] < 90  # submitit's default would end short jobs early
    assert (
        SlurmExecutor(ExecutorSpec(kind="slurm", time_min=10, cpus_per_job=8)).parameters(
            _command(tmp_path)
        )["timeout_min"]
        == 10
    )


def test_a_stored_slurm_id_is_found_again_and_a_cut_off_submission_only_if_submitted(tmp_path):
    command = _command(tmp_path)
    record = {"slurm_job_id": "4242", "submitted": 0.0, "command": {
        "job_id": command.job_id, "python": command.python, "spec_path": str(command.spec_path),
        "folder": str(tmp_path), "threads": 2, "timeout_s": 600.0, "extra_env": {}}}  # fmt: skip
    (tmp_path / SLURM_JSON).write_text(json.dumps(record))
    handle = SlurmExecutor(SLURM).reattach(tmp_path)
    assert handle is not None and handle.slurm_id == "4242" and handle.command == command
    (tmp_path / SLURM_JSON).write_text('{"slurm_job_id": "4242", "comm')
    assert SlurmExecutor(SLURM).reattach(tmp_path) is None
    assert SlurmExecutor(SLURM).reattach(tmp_path / "never-submitted") is None
    # Stopped between writing the record and learning the id: not submitted ...
    (tmp_path / SLURM_JSON).write_text(json.dumps({**record, "slurm_job_id": None}))
    assert SlurmExecutor(SLURM).reattach(tmp_path) is None
    # ... unless submitit had made the job's folder: then that is the id.
    (tmp_path / "slurm" / "4243").mkdir(parents=True)
    handle = SlurmExecutor(SLURM).reattach(tmp_path)
    assert handle is not None and handle.slurm_id == "4243"


def test_a_cluster_jobs_worker_outlives_slurms_time_warning(tmp_path):
    """Slurm sends submitit's SIGUSR2 to every process of the job before its time limit; the
    worker must not die of it (submitit's handler ends the job as timed out)."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nkill -USR2 $$\necho outlived\n")
    fake.chmod(0o755)
    command = WorkerCommand(
        job_id="j", python=str(fake), spec_path=tmp_path / "spec.json", folder=tmp_path,
        threads=1, timeout_s=60.0,
    )  # fmt: skip
    outcome = run_to_end(command)
    assert outcome.ok, outcome.how
    assert (tmp_path / "stdout.log").read_text() == "outlived\n"


def test_slurm_without_its_commands_and_slots_on_missing_cpus_are_clear_errors(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match="needs Slurm's 'sbatch' command"):
        make_executor(ExecutorSpec(kind="slurm"))
    with pytest.raises(InputError, match="cpu_sets names CPU 4096"):
        make_executor(ExecutorSpec(max_parallel=2, cpu_sets=((0,), (4096,))))


def test_local_slots_run_jobs_side_by_side_each_on_its_own_cpu(tmp_path, project):
    """Two slots of one CPU each: every worker sees only its slot's CPU."""
    adapters = [
        {"name": MEAN, "label": "a", "config": {"sleep_s": 1.0}},
        {"name": MEAN, "label": "b", "config": {"sleep_s": 1.0}},
    ]
    executor = {"max_parallel": 2, "cpu_sets": [[0], [1]]}
    config = RunConfig.load(_config(tmp_path, project, adapters, executor=executor))
    run(config, tmp_path / "out", quiet=True)
    cpus = []
    for label in ("a", "b"):
        job = read_record(tmp_path / f"out/jobs/blobs__fold0__{label}__seed0/job.json", JobRecord)
        assert job.status == "done" and job.execution is not None
        assert job.execution.executor == "local" and job.environment["cores"] == 1
        cpus.append(job.execution.cpus)
    assert sorted(cpus) == [[0], [1]]


def test_a_job_submitted_to_slurm_and_never_collected_is_not_run_locally(tmp_path, project):
    config = RunConfig.load(_config(tmp_path, project, [{"name": MEAN, "label": "mean"}]))
    run(config, tmp_path / "out", quiet=True)
    folder = tmp_path / "out/jobs/blobs__fold0__mean__seed0"
    (folder / "job.json").unlink()
    (folder / SLURM_JSON).write_text('{"slurm_job_id": "7"}')
    with pytest.raises(InputError) as err:
        run(config, tmp_path / "out", quiet=True)
    assert str(folder / SLURM_JSON) in str(err.value) and "--executor slurm" in str(err.value)


def test_a_failed_job_is_submitted_again_not_found_again(tmp_path, project, monkeypatch):
    """Resume retries a failed job: only folders without job.json are looked up on the
    cluster."""
    from benchmark.runner import run as run_module
    from benchmark.runner.executors.local import LocalExecutor

    looked_up: list[str] = []

    class Recording(LocalExecutor):
        def reattach(self, folder: Path) -> None:
            looked_up.append(folder.name)

    adapters = [{"name": MEAN, "label": "mean"}, {"name": FAILING, "label": "bad"}]
    config = RunConfig.load(_config(tmp_path, project, adapters))
    run(config, tmp_path / "out", quiet=True)
    monkeypatch.setattr(run_module, "make_executor", lambda spec: Recording())
    run(config, tmp_path / "out", quiet=True)
    assert looked_up == []  # mean is done, bad has its failed job.json: tried again
    (tmp_path / "out/jobs/blobs__fold0__bad__seed0/job.json").unlink()
    run(config, tmp_path / "out", quiet=True)
    assert looked_up == ["blobs__fold0__bad__seed0"]


def test_a_refused_submission_is_one_line_and_blocks_no_rerun(tmp_path, project):
    """sbatch failing (controller down): sbatch's own message in one line, exit 1, and no
    record that would make a rerun wait for a job that never reached the cluster."""
    import os
    import subprocess
    import sys

    from benchmark.paths import code_root

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    down = "sbatch: error: Batch job submission failed: Unable to contact slurm controller"
    for name, body in {"sbatch": f"echo '{down}' >&2; exit 1", "sacct": "", "srun": ""}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    config = _config(tmp_path, project, [{"name": MEAN, "label": "mean"}])
    env = {**os.environ, "PYTHONPATH": str(code_root())}

    def kpbench(*argv: str, path: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "benchmark.cli", "run", str(config), "--out", "out", *argv],
            cwd=tmp_path, env={**env, "PATH": path}, capture_output=True, text=True,
            check=False,
        )  # fmt: skip

    proc = kpbench("--executor", "slurm", path=f"{bin_dir}:{env['PATH']}")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == (
        "kpbench: error: sbatch did not take job blobs__fold0__mean__seed0: " + down + "\n"
    )
    assert not list((tmp_path / "out").rglob(SLURM_JSON))
    assert not (tmp_path / "out" / "jobs" / "blobs__fold0__mean__seed0").exists()
    proc = kpbench("--executor", "local", path=env["PATH"])
    assert proc.returncode == 0, proc.stderr
    job = read_record(tmp_path / "out/jobs/blobs__fold0__mean__seed0/job.json", JobRecord)
    assert job.status == "done"
