"""One ``kpbench run`` per run folder at a time.

The runner holds an exclusive ``flock`` on ``<run folder>/.kpbench-run.lock`` while it runs.
The OS releases it when the process ends, however it ends, so a killed run never leaves a
stale lock; the file itself may stay (it holds the last holder's process id, for messages).
Readers (``kpbench report``) take no lock: they ask :func:`holder` whether a run is in
progress and render what is finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.errors import DiskFullError, InputError, is_no_space

#: The lock file inside a run folder (hidden: it is not part of the results).
LOCK_FILE = ".kpbench-run.lock"


def _pid_in(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def holder(run_dir: str | Path) -> int | None:
    """The process id of the ``kpbench run`` that holds ``run_dir`` now, else None.

    Takes the lock for an instant when it is free (never creates the file), so it answers
    for a folder whose lock file a killed run left behind too.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(path) or -1
    finally:
        os.close(fd)  # closing releases a lock taken here
    return None


def check_free(run_dir: str | Path) -> None:
    """Refuse a run folder that another ``kpbench run`` holds now (touches nothing).

    Raises:
        InputError: Names the folder and the holder's process id.
    """
    pid = holder(run_dir)
    if pid is not None:
        raise _held(Path(run_dir), pid)


def holder_words(pid: int | None) -> str:
    """The holder of a run folder in words: ``process 1234`` (``another process`` when its id
    is unknown)."""
    return f"process {pid}" if pid and pid > 0 else "another process"


def _held(run_dir: Path, pid: int | None) -> InputError:
    who = holder_words(pid)
    return InputError(
        run_dir,
        f"another kpbench run is writing this run folder ({who}); wait for it to end, or "
        "stop it, then run again to resume",
    )


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold ``run_dir`` for this process until the block ends (creating the folder).

    Raises:
        InputError: Another process holds the folder: names it and its process id; nothing
            in the folder was touched. Or the folder cannot be written.
        DiskFullError: No space for the lock file (a folder made here is removed).
    """
    run_dir = Path(run_dir)
    made = not run_dir.exists()
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if made:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        if is_no_space(exc):
            raise DiskFullError(path) from None
        raise InputError(run_dir, f"cannot write here ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(run_dir, _pid_in(path)) from None
        with contextlib.suppress(OSError):  # the id is for messages only (disk full?)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        os.close(fd)
