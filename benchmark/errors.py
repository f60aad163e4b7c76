"""Errors that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path


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
