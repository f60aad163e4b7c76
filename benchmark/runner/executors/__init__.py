"""Executors: where a job's worker command runs (this machine, or a Slurm cluster)."""

from __future__ import annotations

import os

from benchmark.errors import InputError
from benchmark.runner.config import ExecutorSpec
from benchmark.runner.executors.base import Executor, Handle, Outcome, WorkerCommand

__all__ = ["Executor", "Handle", "Outcome", "WorkerCommand", "make_executor"]


def make_executor(spec: ExecutorSpec, where: str = "executor") -> Executor:
    """The executor a run config's ``executor`` entry describes.

    Raises:
        InputError: Local slots name CPUs this process may not use, or ``slurm`` is asked
            for on a machine without Slurm's commands.
    """
    if spec.kind == "local":
        from benchmark.runner.executors.local import LocalExecutor

        usable = os.sched_getaffinity(0)
        for cpus in spec.cpu_sets or ():
            missing = sorted(set(cpus) - usable)
            if missing:
                raise InputError(
                    where,
                    f"cpu_sets names CPU {missing[0]}, which this machine does not give "
                    f"kpbench (usable: {sorted(usable)})",
                )
        return LocalExecutor(spec)
    import shutil

    from benchmark.runner.executors.slurm import SlurmExecutor

    for command in ("sbatch", "sacct", "srun"):  # submitit looks for srun too
        if shutil.which(command) is None:
            raise InputError(
                where,
                f"executor kind slurm needs Slurm's {command!r} command, which is not on "
                "PATH here; run kpbench on a Slurm login node (see docs/cluster.md)",
            )
    return SlurmExecutor(spec)
