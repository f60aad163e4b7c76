"""How a job's worker command runs: the interface the runner drives, and the parts every
executor shares.

The runner prepares a job (its folder, ``spec.json``) into a :class:`WorkerCommand`, hands it
to an executor (``submit``), polls it until it has an :class:`Outcome`, and then computes the
job's metrics itself. The command, its spec file and its ``result.json`` are the same for
every executor; only where and when the command runs differ.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

#: What the runner shows for a submitted job that has not ended.
Phase = Literal["queued", "running"]


@dataclass(frozen=True)
class WorkerCommand:
    """One job's worker command, ready to run anywhere the run directory is mounted.

    Attributes:
        job_id: The job's id (its folder name).
        python: Interpreter of the adapter's environment.
        spec_path: The job's ``spec.json``.
        folder: The job folder: the working directory, ``stdout.log`` and ``stderr.log``.
        threads: Torch/BLAS threads of the worker.
        timeout_s: Wall-clock limit of the worker (the adapter's ``timeout_s``).
        extra_env: Variables set on top of the worker's environment (e.g. a GPU slot).
    """

    job_id: str
    python: str
    spec_path: Path
    folder: Path
    threads: int
    timeout_s: float
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def argv(self) -> list[str]:
        """The command line."""
        return [self.python, "-m", "benchmark.runner.worker", str(self.spec_path)]

    @property
    def progress_path(self) -> Path:
        """Where the worker writes its latest progress record."""
        return self.folder / "progress.json"

    def env(self) -> dict[str, str]:
        """The worker's environment, built where it runs (on a cluster: on the node)."""
        from benchmark.envs import child_env

        return {**child_env(self.threads), **self.extra_env}


@dataclass(frozen=True)
class Outcome:
    """How a job's worker command ended.

    Attributes:
        rc: Exit code of the worker; None when it did not exit by itself (timed out, or
            cancelled or killed on a cluster).
        how: The ending in words ("ok", "worker exited with code 1", "timed out after 60 s").
        node: Host that ran the worker, when known.
        log_tail: The end of the executor's own log, for a job that ended before or outside
            its worker (a cluster job cancelled while queued).
    """

    rc: int | None
    how: str
    node: str | None = None
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        """The worker exited with code 0."""
        return self.rc == 0


class Handle(Protocol):
    """A submitted job, as its executor tracks it."""

    command: WorkerCommand
    started: float  # time.monotonic() when submitted or found again


class Executor(Protocol):
    """Runs worker commands: submit, poll, cancel; finds running ones again on resume.

    Attributes:
        kind: The executor's name in run configs (``local``, ``slurm``).
        max_parallel: Jobs submitted at once.
        detaches: Submitted jobs go on when the runner stops (a cluster's do; local workers
            are killed with the runner).
    """

    kind: ClassVar[str]
    max_parallel: int
    detaches: ClassVar[bool]

    def submit(self, command: WorkerCommand) -> Handle:
        """Start (or queue) the command; returns at once."""
        ...

    def refresh(self) -> None:
        """Bring the states of every submitted job up to date (one query per poll round)."""
        ...

    def phase(self, handle: Handle) -> Phase:
        """Whether a job that has not ended is still queued or running."""
        ...

    def outcome(self, handle: Handle) -> Outcome | None:
        """How the job ended, or None while it has not."""
        ...

    def cancel(self, handle: Handle) -> None:
        """Stop the job (kill the worker, or cancel it on the cluster)."""
        ...

    def reattach(self, folder: Path) -> Handle | None:
        """A job of an earlier ``kpbench run`` that is still queued or running, or ended
        without being collected, found from what its folder stores; None when there is none."""
        ...

    def provenance(self, handle: Handle) -> dict[str, Any]:
        """What the job record stores about where the job ran (executor, ids)."""
        ...


# ----------------------------------------------------------------------------- shared
def die_with_parent() -> None:
    """In the child: get SIGKILL when its parent dies, so no orphaned worker keeps training."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_worker(
    command: WorkerCommand,
    *,
    new_session: bool,
    preexec: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """Start the worker command with its logs in the job folder.

    Args:
        command: The job's command.
        new_session: Put the worker in a process group of its own (so a terminal's Ctrl-C
            reaches only the runner, which then kills the group).
        preexec: Run in the child before the command (after :func:`die_with_parent`).
    """

    def setup() -> None:
        die_with_parent()
        if preexec is not None:
            preexec()

    with (
        (command.folder / "stdout.log").open("wb") as out,
        (command.folder / "stderr.log").open("wb") as err,
    ):
        return subprocess.Popen(
            command.argv,
            stdout=out,
            stderr=err,
            env=command.env(),
            cwd=command.folder,
            start_new_session=new_session,
            preexec_fn=setup,
        )


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the worker (its process group when it has one of its own) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    proc.wait()


def describe_exit(rc: int) -> str:
    """An exit code in words (a negative code is the signal that killed the worker)."""
    if rc == 0:
        return "ok"
    if rc < 0:
        sig = signal.Signals(-rc).name
        hint = " (killed: out of memory?)" if -rc == signal.SIGKILL else ""
        return f"worker died from signal {sig}{hint}"
    return f"worker exited with code {rc}"


def timed_out(timeout_s: float) -> str:
    """The ending of a worker stopped at its wall-clock limit."""
    return f"timed out after {timeout_s:.0f} s"


def ignore_time_warning() -> None:
    """In the child: ignore SIGUSR2, the "time is nearly up" warning submitit has Slurm send
    to every process of the job. The worker keeps no checkpoint to save, and dying of the
    warning would race submitit's own handler, which ends the job as timed out."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


def run_to_end(command: WorkerCommand) -> Outcome:
    """Run the worker command and wait for it, within its timeout (what a cluster job runs).

    Whatever stops this function (a signal turned into an exception) kills the worker first.
    """
    proc = start_worker(command, new_session=False, preexec=ignore_time_warning)
    try:
        rc = proc.wait(timeout=command.timeout_s)
    except subprocess.TimeoutExpired:
        kill(proc)
        return Outcome(None, timed_out(command.timeout_s), socket.gethostname())
    except BaseException:
        kill(proc)
        raise
    return Outcome(rc, describe_exit(rc), socket.gethostname())
