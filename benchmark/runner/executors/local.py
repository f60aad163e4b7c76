"""The local executor: worker processes on this machine, one at a time unless the run splits
its CPUs or GPUs into slots (two trainings sharing two cores are many times slower than one
after the other, so parallel local jobs need cores of their own)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from benchmark.runner.config import ExecutorSpec
from benchmark.runner.executors.base import (
    Outcome,
    Phase,
    WorkerCommand,
    describe_exit,
    kill,
    start_worker,
    timed_out,
)


@dataclass
class LocalHandle:
    """A running local worker and the slot it holds."""

    command: WorkerCommand
    proc: subprocess.Popen
    slot: int
    started: float = field(default_factory=time.monotonic)
    ended: Outcome | None = None


class LocalExecutor:
    """Runs each worker as a subprocess of the runner.

    Args:
        spec: The run's ``executor`` entry (kind ``local``): ``max_parallel`` workers at
            once, each slot pinned to its ``cpu_sets`` entry (``os.sched_setaffinity``)
            and seeing its ``gpus`` entry (``CUDA_VISIBLE_DEVICES``).
    """

    kind: ClassVar[str] = "local"
    detaches: ClassVar[bool] = False

    def __init__(self, spec: ExecutorSpec | None = None):
        spec = spec or ExecutorSpec()
        self.max_parallel = spec.max_parallel
        self.cpu_sets = spec.cpu_sets
        self.gpus = spec.gpus
        self._busy: set[int] = set()

    def submit(self, command: WorkerCommand) -> LocalHandle:
        """Start the worker in a free slot."""
        slot = min(set(range(self.max_parallel)) - self._busy)
        extra = dict(command.extra_env)
        if self.gpus is not None:
            extra["CUDA_VISIBLE_DEVICES"] = str(self.gpus[slot])
        cpus = self.cpu_sets[slot] if self.cpu_sets is not None else None
        command = replace(command, extra_env=extra)
        proc = start_worker(
            command,
            new_session=True,
            preexec=(lambda: os.sched_setaffinity(0, cpus)) if cpus is not None else None,
        )
        self._busy.add(slot)
        return LocalHandle(command, proc, slot)

    def refresh(self) -> None:
        """Nothing to query: each poll asks the process itself."""

    def phase(self, handle: LocalHandle) -> Phase:
        """A local job runs from the moment it is submitted."""
        return "running"

    def outcome(self, handle: LocalHandle) -> Outcome | None:
        """The worker's exit, or its timeout (which kills it)."""
        if handle.ended is not None:
            return handle.ended
        rc = handle.proc.poll()
        if rc is not None:
            handle.ended = Outcome(rc, describe_exit(rc), socket.gethostname())
        elif time.monotonic() - handle.started > handle.command.timeout_s:
            kill(handle.proc)
            handle.ended = Outcome(None, timed_out(handle.command.timeout_s), socket.gethostname())
        if handle.ended is not None:
            self._busy.discard(handle.slot)
        return handle.ended

    def cancel(self, handle: LocalHandle) -> None:
        """Kill the worker's process group."""
        kill(handle.proc)
        self._busy.discard(handle.slot)

    def reattach(self, folder: Path) -> None:
        """Never: a local worker dies with the runner that started it."""
        return None

    def provenance(self, handle: LocalHandle) -> dict[str, Any]:
        """The executor, and the slot's CPUs or GPU when the run has slots."""
        info: dict[str, Any] = {"executor": self.kind}
        if self.cpu_sets is not None:
            info["cpus"] = list(self.cpu_sets[handle.slot])
        if self.gpus is not None:
            info["gpu"] = self.gpus[handle.slot]
        return info
