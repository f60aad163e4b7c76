"""Errors that the CLI turns into one clear line (exit code 2; 3 for a full disk)."""

from __future__ import annotations

import errno
from pathlib import Path

#: ``errno`` values of a write refused for want of space (disk full, quota exceeded).
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class KpbenchError(Exception):
    """Base class for every error kpbench reports to users without a traceback."""


class InputError(KpbenchError):
    """A file given to kpbench cannot be used.

    Args:
        path: The offending file (or folder).
        problem: What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DiskFullError(KpbenchError):
    """A write failed for want of disk space (or quota).

    Args:
        path: The file being written, when known.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        where = f" writing {self.path}" if self.path is not None else ""
        super().__init__(f"no space left on device{where}")


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write refused for want of disk space."""
    return isinstance(exc, DiskFullError) or (
        isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS
    )


class SubmitError(KpbenchError):
    """A cluster refused to take a job (``sbatch`` failed): the run stops (exit code 1)."""
