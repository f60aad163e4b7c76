"""Where kpbench keeps caches, and atomic file writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from benchmark.errors import InputError


def repo_root() -> Path:
    """The source tree kpbench runs from (holds ``datasets/``, ``configs/``, ``reports/``)."""
    return Path(__file__).resolve().parents[1]


def code_root() -> Path:
    """The folder holding kpbench's packages (``benchmark/``, ``adapters/``): what a kpbench
    subprocess in another interpreter (an adapter's own environment) needs on PYTHONPATH."""
    return Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """Cache for fetched and generated datasets: ``$KPBENCH_CACHE`` or ``~/.cache/kpbench``."""
    root = os.environ.get("KPBENCH_CACHE") or Path.home() / ".cache" / "kpbench"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A crash or exception leaves ``path`` as it was (absent or the old content).

    Raises:
        InputError: ``path`` cannot be written (no permission, a folder in the way, ...).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _new_temp_file(path)
    except OSError as exc:
        raise InputError(path, f"cannot write here ({exc.strerror or exc})") from None
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise InputError(path, f"cannot write here ({exc.strerror or exc})") from None
    finally:
        tmp_path.unlink(missing_ok=True)


def _new_temp_file(path: Path) -> Path:
    """Create an empty, unique temporary file beside ``path`` with the usual permissions.

    Created with mode 0666 so that the process umask applies as for any new file (no umask
    read-and-restore, which would race with other threads creating files).
    """
    suffix = ".tmp" + path.suffix  # keep the extension: pandas/PIL pick writers by it
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
