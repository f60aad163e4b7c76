"""The Slurm executor: each job's worker command as a Slurm job, submitted with submitit.

The Slurm job runs :func:`benchmark.runner.executors.base.run_to_end` on its node, which
starts exactly the command a local run starts (in the adapter's own environment) and returns
how it ended. The runner, on the submitting host, polls with one ``sacct`` call per round and
computes each finished job's metrics as a local run does.

Every job records its submission in ``<job folder>/slurm.json`` (the command before
``sbatch`` runs, its Slurm id right after; should the runner die in between, the id is read
from submitit's ``slurm/<id>/`` folder), so a ``kpbench run`` that is interrupted (Ctrl-C,
SIGKILL) and started again finds the job, waits for it and collects it instead of
submitting it a second time. The Slurm jobs themselves are left alone when the runner stops.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from benchmark.errors import SubmitError
from benchmark.paths import atomic_write_text
from benchmark.runner.config import ExecutorSpec
from benchmark.runner.executors.base import Outcome, Phase, WorkerCommand, run_to_end

#: The job folder's record of its Slurm job.
SLURM_JSON = "slurm.json"
#: submitit's folder inside the job folder (its submission script, logs, result pickle).
SUBMITIT_DIR = "slurm"
#: Slurm states of a job that has not started (UNKNOWN: not yet in the accounting).
QUEUED_STATES = {"PENDING", "REQUEUED", "CONFIGURING", "RESIZING", "SUSPENDED", "UNKNOWN"}
#: Seconds an unknown job id is given to show up in accounting before it counts as lost.
LOST_AFTER_S = 120.0
#: Seconds between USR2 (submitit's "time is nearly up") and Slurm's kill at the time limit.
SIGNAL_DELAY_S = 10
#: Minutes added to the longest adapter timeout for the default Slurm time limit.
TIME_MARGIN_MIN = 5

#: A Slurm state that ends a job without our function returning, in words.
STATE_WORDS = {
    "CANCELLED": "cancelled on the cluster (scancel, or an administrator)",
    "TIMEOUT": "stopped by Slurm at its time limit",
    "OUT_OF_MEMORY": "killed by Slurm for exceeding its memory (raise mem_gb)",
    "NODE_FAIL": "its node failed",
    "PREEMPTED": "preempted on the cluster",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "passed its deadline",
    "FAILED": "failed on the cluster",
}


def _tail(job: Any, lines: int = 40) -> str:
    """The end of the Slurm job's own stderr (submitit's log)."""
    try:
        text = job.paths.stderr.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _submitted_id(folder: Path) -> str | None:
    """The Slurm id of a submission whose record lacks it: submitit names its folder for
    the job (``slurm/<id>/``) as soon as ``sbatch`` answers."""
    ids = [p.name for p in (folder / SUBMITIT_DIR).glob("*") if p.is_dir() and p.name.isdigit()]
    return ids[0] if len(ids) == 1 else None


@dataclass
class SlurmHandle:
    """A submitted Slurm job."""

    command: WorkerCommand
    job: Any  # submitit.SlurmJob
    started: float = field(default_factory=time.monotonic)
    ended: Outcome | None = None

    @property
    def slurm_id(self) -> str:
        """Slurm's id of the job."""
        return str(self.job.job_id)


class SlurmExecutor:
    """Submits each job to Slurm through submitit.

    Args:
        spec: The run's ``executor`` entry (kind ``slurm``): partition, GPUs, CPUs, memory,
            time limit (default: the job's ``timeout_s`` plus :data:`TIME_MARGIN_MIN`, so
            the harness's own timeout ends it first), extra sbatch options, setup lines.
    """

    kind: ClassVar[str] = "slurm"
    detaches: ClassVar[bool] = True

    def __init__(self, spec: ExecutorSpec):
        self.spec = spec
        self.max_parallel = spec.max_parallel
        self._last_refresh = float("-inf")

    def parameters(self, command: WorkerCommand) -> dict[str, Any]:
        """submitit's parameters for one job."""
        spec = self.spec
        time_min = spec.time_min or math.ceil(command.timeout_s / 60) + TIME_MARGIN_MIN
        params: dict[str, Any] = {
            "name": f"kpbench-{command.job_id}",
            "nodes": 1,
            "tasks_per_node": 1,
            "cpus_per_task": spec.cpus_per_job or command.threads,
            "timeout_min": time_min,
            "slurm_signal_delay_s": SIGNAL_DELAY_S,
        }
        if spec.gpus_per_job:
            params["gpus_per_node"] = spec.gpus_per_job
        if spec.partition:
            params["slurm_partition"] = spec.partition
        if spec.mem_gb:
            params["mem_gb"] = spec.mem_gb
        if spec.extra:
            params["slurm_additional_parameters"] = dict(spec.extra)
        if spec.setup:
            params["slurm_setup"] = list(spec.setup)
        return params

    def submit(self, command: WorkerCommand) -> SlurmHandle:
        """Submit the job; its record in the job folder is written before ``sbatch`` runs
        (without an id) and completed with the id right after.

        Raises:
            SubmitError: ``sbatch`` failed (its message); the record is removed again.
        """
        import submitit

        record: dict[str, Any] = {
            "slurm_job_id": None,
            "command": {
                **asdict(command),
                "spec_path": str(command.spec_path),
                "folder": str(command.folder),
            },
        }
        atomic_write_text(command.folder / SLURM_JSON, json.dumps(record, indent=1))
        executor = submitit.AutoExecutor(
            folder=command.folder / SUBMITIT_DIR / "%j", cluster="slurm"
        )
        executor.update_parameters(**self.parameters(command))
        try:
            # submitit prints sbatch's stderr itself before raising: the error says it once.
            with contextlib.redirect_stderr(io.StringIO()):
                job = executor.submit(run_to_end, command)
        except (submitit.core.utils.FailedJobError, OSError) as exc:
            # Not on the cluster: nothing may say it was (a rerun would wait for it).
            (command.folder / SLURM_JSON).unlink(missing_ok=True)
            shutil.rmtree(command.folder / SUBMITIT_DIR, ignore_errors=True)
            said = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            raise SubmitError(
                f"sbatch did not take job {command.job_id}: "
                f"{said[-1] if said else type(exc).__name__}"
            ) from None
        record.update(slurm_job_id=str(job.job_id), submitted=time.time())
        atomic_write_text(command.folder / SLURM_JSON, json.dumps(record, indent=1))
        return SlurmHandle(command, job)

    def refresh(self) -> None:
        """One ``sacct`` call for every job not yet ended, at most every ``poll_s``."""
        import submitit

        if time.monotonic() - self._last_refresh >= self.spec.poll_s:
            submitit.SlurmJob.watcher.update()
            self._last_refresh = time.monotonic()

    def _state(self, handle: SlurmHandle) -> str:
        return str(handle.job.watcher.get_state(handle.slurm_id, mode="cache")).split()[0]

    def phase(self, handle: SlurmHandle) -> Phase:
        """Queued while Slurm has not started it, else running."""
        return "queued" if self._state(handle) in QUEUED_STATES else "running"

    def outcome(self, handle: SlurmHandle) -> Outcome | None:
        """How the job ended: what its function returned, or the Slurm state that ended it."""
        if handle.ended is not None:
            return handle.ended
        job, state = handle.job, self._state(handle)
        if job.paths.result_pickle.exists():
            handle.ended = self._collect(handle, state)
        elif state == "UNKNOWN":
            if time.monotonic() - handle.started > LOST_AFTER_S:
                handle.ended = Outcome(None, f"Slurm has no record of job {handle.slurm_id}")
        elif job.watcher.is_done(handle.slurm_id, mode="cache"):
            handle.ended = self._collect(handle, state)
        return handle.ended

    def _collect(self, handle: SlurmHandle, state: str) -> Outcome:
        job = handle.job
        info = job.watcher.get_info(handle.slurm_id, mode="cache")
        node = info.get("NodeList") or None
        try:
            result = job.result()
        except Exception as exc:  # the function did not return: Slurm or a signal ended it
            words = STATE_WORDS.get(state, f"ended in Slurm state {state}")
            log = _tail(job)
            if "timed-out" in str(exc):
                words = "stopped at its Slurm time limit"
            elif "exceeded memory limit" in log.lower():  # Slurm's poller, where no cgroups
                words = STATE_WORDS["OUT_OF_MEMORY"]
            return Outcome(None, f"Slurm job {handle.slurm_id} {words}", node, log)
        if not isinstance(result, Outcome):
            return Outcome(None, f"Slurm job {handle.slurm_id} returned {result!r}", node)
        if result.ok:
            return result
        # The worker died from a signal: Slurm's, when the job was cancelled or hit a limit.
        state = self._settled_state(handle)
        if state in STATE_WORDS and state != "FAILED":
            words = f"Slurm job {handle.slurm_id} {STATE_WORDS[state]} ({result.how})"
            return Outcome(result.rc, words, result.node)
        return result

    def _settled_state(self, handle: SlurmHandle, wait_s: float = 15.0) -> str:
        """The job's Slurm state once accounting has seen it end."""
        deadline = time.monotonic() + wait_s
        while True:
            info = handle.job.watcher.get_info(handle.slurm_id, mode="force")
            state = str(info.get("State") or "UNKNOWN").split()[0]
            if state not in ("RUNNING", "COMPLETING", "UNKNOWN") or time.monotonic() > deadline:
                return state
            time.sleep(1.0)

    def cancel(self, handle: SlurmHandle) -> None:
        """``scancel`` the job."""
        handle.job.cancel(check=False)

    def reattach(self, folder: Path) -> SlurmHandle | None:
        """The Slurm job recorded in ``folder``, if one was submitted."""
        import submitit

        path = folder / SLURM_JSON
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            stored = record["command"]
            command = WorkerCommand(
                # The spec by name in this folder: the run folder may have moved.
                **{**stored, "spec_path": folder / Path(stored["spec_path"]).name, "folder": folder}
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # an unreadable record: never submitted
        slurm_id = record.get("slurm_job_id") or _submitted_id(folder)
        if slurm_id is None:
            return None  # stopped before sbatch answered: not on the cluster
        job = submitit.SlurmJob(folder=folder / SUBMITIT_DIR / "%j", job_id=str(slurm_id))
        return SlurmHandle(command, job)

    def provenance(self, handle: SlurmHandle) -> dict[str, Any]:
        """The executor and the Slurm job id."""
        return {"executor": self.kind, "slurm_job_id": handle.slurm_id}
