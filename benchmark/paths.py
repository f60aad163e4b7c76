"""Where kpbench keeps caches, and atomic file writes."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmark.errors import DiskFullError, InputError, KpbenchError, is_no_space

#: kpbench's top-level packages.
PACKAGES = ("benchmark", "adapters")
#: The environment variable that chooses the cache folder.
CACHE_ENV = "KPBENCH_CACHE"


def code_root() -> Path:
    """The folder holding kpbench's packages (``benchmark/``, ``adapters/``): a source
    checkout, or the ``site-packages`` kpbench is installed in."""
    return Path(__file__).resolve().parents[1]


def is_source_checkout() -> bool:
    """Whether kpbench runs from its source tree (``pyproject.toml`` beside its packages)."""
    return (code_root() / "pyproject.toml").is_file()


def code_path() -> Path:
    """A folder to put on another interpreter's ``PYTHONPATH`` so that it imports kpbench's
    packages and nothing else of this environment.

    Returns:
        ``code_root()`` in a source checkout; for an installed kpbench (whose
        ``site-packages`` holds other packages too: numpy, pandas, ...), a folder
        ``<cache_dir>/code/<version>-<hash of code_root>/`` holding only links to
        kpbench's packages, created on first use.
    """
    root = code_root()
    if is_source_checkout():
        return root
    try:
        version = importlib.metadata.version("kpbench")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    folder = cache_dir() / "code" / f"{version}-{digest}"
    if not _links_to(folder, root):
        _make_links(folder, root)
    return folder


def _links_to(folder: Path, root: Path) -> bool:
    """Whether ``folder`` holds exactly kpbench's packages, linked from ``root``."""
    try:
        entries = sorted(p.name for p in folder.iterdir())
    except OSError:
        return False
    return entries == sorted(PACKAGES) and all(
        (folder / name).is_symlink() and (folder / name).resolve() == root / name
        for name in PACKAGES
    )


def _make_links(folder: Path, root: Path) -> None:
    """Create ``folder`` with links to ``root``'s packages, atomically (temp folder +
    rename); a right folder another process made meanwhile is kept.

    Raises:
        InputError: ``folder`` cannot be written.
    """
    writable_dir(folder.parent, CACHE_ENV)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for name in PACKAGES:
                (tmp / name).symlink_to(root / name, target_is_directory=True)
            if _links_to(folder, root):  # made meanwhile
                return
            if folder.exists() or folder.is_symlink():  # something else: set it aside
                old = folder.with_name(f".{folder.name}.old-{secrets.token_hex(6)}")
                with contextlib.suppress(FileNotFoundError):
                    os.replace(folder, old)
                    shutil.rmtree(old, ignore_errors=True)  # unlinks links, never follows
            try:
                os.replace(tmp, folder)
            except OSError:  # another process won the race
                if not _links_to(folder, root):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise cannot_write(folder, exc) from None


def cache_dir() -> Path:
    """Cache for fetched and generated datasets: ``$KPBENCH_CACHE`` or ``~/.cache/kpbench``.

    Not created here, so that reading needs no write access: writers create the folders they
    write into with :func:`writable_dir`.
    """
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "kpbench"
    return Path(root).expanduser()


def writable_dir(path: Path, variable: str) -> Path:
    """``path``, created when missing, once a file could be made in it.

    Args:
        path: A folder kpbench is about to write into.
        variable: The environment variable that chooses it, which the error names.

    Raises:
        InputError: It cannot be created or written (a read-only file system, no
            permission, a file in the way).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # nameless where it can be: nothing left over
            pass
    except OSError as exc:
        raise cannot_write(path, exc, f"set {variable} to a writable folder") from None
    return path


def cannot_write(path: Path, exc: OSError, advice: str = "") -> KpbenchError:
    """The error for ``path``, which ``exc`` kept kpbench from writing, with ``advice``
    (a :class:`DiskFullError` when the disk is full)."""
    if is_no_space(exc):
        return DiskFullError(path)
    problem = f"cannot write here ({exc.strerror or exc})"
    return InputError(path, f"{problem}; {advice}" if advice else problem)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A crash or exception leaves ``path`` as it was (absent or the old content).

    Raises:
        InputError: ``path`` cannot be written (no permission, a folder in the way, ...).
        DiskFullError: The disk filled up while writing it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _new_temp_file(path)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        try:
            yield tmp_path
        except OSError as exc:
            if is_no_space(exc):
                raise DiskFullError(path) from None
            raise
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise cannot_write(path, exc) from None
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
