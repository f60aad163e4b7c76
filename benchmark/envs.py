"""Adapter environments: separate virtual environments for frameworks that cannot share ours.

An adapter that sets ``environment = "NAME"`` ships a pinned ``requirements.lock`` next to its
module (compiled from ``requirements.in`` with ``uv pip compile``). ``kpbench env create NAME``
builds it with uv into ``$KPBENCH_ENVS/NAME`` (default ``<cache_dir>/envs/NAME``), outside the
source tree, and records a hash of what it was built from (lock content + Python version). A
changed lock or Python version makes the environment stale and the next ``ensure`` rebuilds
it. Builds go into a temporary folder that is renamed into place only on success, so a failed
build never leaves a half-built environment behind. The runner starts the adapter's worker
with the environment's interpreter and kpbench's packages (only) on ``PYTHONPATH`` (see
:func:`benchmark.paths.code_path`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from benchmark.errors import KpbenchError
from benchmark.paths import CACHE_ENV, atomic_write_text, cache_dir, code_path, writable_dir

if TYPE_CHECKING:
    from adapters.base import Adapter

#: The environment variable that chooses where environments live.
ENVS_ENV = "KPBENCH_ENVS"
MARKER = "kpbench-env.json"
LOCK_NAME = "requirements.lock"
DEFAULT_PYTHON = "3.11"
#: Seconds an environment may take to import its framework before it counts as broken.
IMPORT_TIMEOUT_S = 300

#: ``built``, ``stale`` and ``missing`` come from the build record; ``broken`` (built, but its
#: framework does not import) only from :meth:`EnvSpec.checked_status`.
Status = Literal["built", "stale", "missing", "broken"]


class EnvBuildError(KpbenchError):
    """An adapter environment could not be built (the message holds uv's last lines)."""


@dataclass(frozen=True)
class EnvSpec:
    """What an environment is built from.

    Attributes:
        name: Environment name (folder name under ``envs_dir()``).
        lock: Pinned requirements file (``uv pip compile`` output).
        python: Python version uv creates the environment with.
        module: The module of the framework it is built for (None: nothing to check).
    """

    name: str
    lock: Path
    python: str = DEFAULT_PYTHON
    module: str | None = None

    @property
    def path(self) -> Path:
        """Folder the environment lives in."""
        return envs_dir() / self.name

    @property
    def interpreter(self) -> Path:
        """The environment's Python executable."""
        return self.path / "bin" / "python"

    def build_hash(self) -> str:
        """Hash of everything the environment is built from."""
        if not self.lock.is_file():
            raise EnvBuildError(f"{self.lock}: lock file of environment {self.name!r} not found")
        digest = hashlib.sha256()
        digest.update(f"python={self.python}\n".encode())
        digest.update(self.lock.read_bytes())
        return digest.hexdigest()

    def status(self) -> Status:
        """``built`` (up to date), ``stale`` (built from another lock/Python) or ``missing``."""
        record = self.record()
        if record is None or not self.interpreter.exists():
            return "missing"
        return "built" if record.get("hash") == self.build_hash() else "stale"

    def checked_status(self) -> tuple[Status, str]:
        """:meth:`status`, but ``broken`` for a built environment that cannot import its
        framework (which takes as long as that import); with the reason, else ``""``."""
        status = self.status()
        if status == "built" and (problem := self.import_problem()):
            return "broken", problem
        return status, ""

    def import_problem(self) -> str | None:
        """Why the environment's interpreter cannot import :attr:`module` (None: it can).

        The interpreter runs isolated (``-I``): no ``PYTHONPATH``, no user site-packages.
        """
        if self.module is None:
            return None
        try:
            proc = subprocess.run(
                [str(self.interpreter), "-I", "-c", f"import {self.module}"],
                capture_output=True,
                text=True,
                timeout=IMPORT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"importing {self.module} took over {IMPORT_TIMEOUT_S} s"
        except OSError as exc:
            return f"cannot run {self.interpreter} ({exc.strerror or exc})"
        if proc.returncode == 0:
            return None
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return f"cannot import {self.module}: {last}"

    def record(self) -> dict | None:
        """The build record of the existing environment, or None."""
        try:
            return json.loads((self.path / MARKER).read_text())
        except (OSError, ValueError):
            return None

    def locked_version(self, package: str) -> str | None:
        """Version of ``package`` pinned in the lock file (None when not pinned)."""
        wanted = _normalize(package)
        for line in self.lock.read_text().splitlines():
            name, sep, version = line.split("#")[0].strip().partition("==")
            if sep and _normalize(name.split("[")[0]) == wanted:
                return version.split(";")[0].split()[0]  # drop markers, "\\" and hashes
        return None


def envs_dir() -> Path:
    """Where adapter environments live: ``$KPBENCH_ENVS`` or ``<cache_dir>/envs`` (not created
    here: listing environments needs no write access)."""
    root = os.environ.get(ENVS_ENV)
    return Path(root).expanduser() if root else cache_dir() / "envs"


def _writable_envs_dir() -> Path:
    """:func:`envs_dir`, created when missing.

    Raises:
        InputError: It cannot be created or written (naming the variable that moves it).
    """
    variable = ENVS_ENV if os.environ.get(ENVS_ENV) else f"{ENVS_ENV} (or {CACHE_ENV})"
    return writable_dir(envs_dir(), variable)


def spec_for(adapter_cls: type[Adapter]) -> EnvSpec | None:
    """The environment ``adapter_cls`` runs in (None: the main environment)."""
    if not adapter_cls.environment:
        return None
    module = sys.modules[adapter_cls.__module__]
    assert module.__file__ is not None
    framework = adapter_cls.framework  # a distribution name; its module is named alike
    return EnvSpec(
        adapter_cls.environment,
        Path(module.__file__).parent / LOCK_NAME,
        module=framework.replace("-", "_") if framework else None,
    )


def interpreter_for(
    adapter_cls: type[Adapter],
    python: str | Path | None = None,
    on_build: Callable[[str], None] | None = None,
) -> Path:
    """The Python that runs ``adapter_cls``'s code, for every caller (runner, tracking).

    Args:
        adapter_cls: The adapter.
        python: An interpreter a run config names for it (``python:``); wins when given.
        on_build: Told, in words, when the adapter's environment must be built first.

    Returns:
        ``python``; else the adapter's own environment's interpreter (built when missing or
        stale); else this interpreter.

    Raises:
        EnvBuildError: The adapter's environment could not be built.
    """
    if python is not None:
        return Path(python)
    spec = spec_for(adapter_cls)
    if spec is None or runs_in(spec):
        return Path(sys.executable)
    if spec.status() != "built" and on_build is not None:
        on_build(f"building environment {spec.name!r} in {spec.path} ...")
    return ensure(spec)


def runs_in(spec: EnvSpec) -> bool:
    """Whether this process already runs in ``spec``'s environment."""
    return Path(sys.prefix).resolve() == spec.path.resolve()


def is_this_interpreter(python: str | Path) -> bool:
    """Whether ``python`` is the interpreter of this process (and its environment).

    Paths are compared without resolving links: every virtual environment's ``python`` is a
    link to the same base interpreter, but each one sees its own packages.
    """
    return os.path.abspath(python) == os.path.abspath(sys.executable)


def child_env(threads: int | None = None) -> dict[str, str]:
    """The environment of a kpbench subprocess (a worker, a tracking run) in any of the
    interpreters above: kpbench's packages, and no other package of this environment, on
    ``PYTHONPATH`` (see :func:`benchmark.paths.code_path`), BLAS/OpenMP threads capped, no
    experiment trackers."""
    from benchmark.resources import thread_env

    path = os.pathsep.join([str(code_path()), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PYTHONPATH": path, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    if threads is not None:
        env.update(thread_env(threads))
    return env


def declared() -> dict[str, EnvSpec]:
    """Every environment named by a registered adapter that can be imported here."""
    from benchmark.registry import load_class, registered

    specs: dict[str, EnvSpec] = {}
    for name in registered():
        try:
            spec = spec_for(load_class(name))
        except (ImportError, KpbenchError):
            continue
        if spec is not None:
            specs.setdefault(spec.name, spec)
    return specs


def find(name: str) -> EnvSpec:
    """The environment called ``name``, or the one adapter ``name`` runs in.

    Raises:
        KpbenchError: No registered adapter declares such an environment.
    """
    specs = declared()
    if name in specs:
        return specs[name]
    from benchmark.registry import load_class

    spec = spec_for(load_class(name))  # raises UnknownAdapterError for an unknown name
    if spec is None:
        known = ", ".join(sorted(specs)) or "none"
        raise KpbenchError(
            f"adapter {name!r} runs in the main environment (adapter environments: {known})"
        )
    return spec


def ensure(spec: EnvSpec, *, quiet: bool = True) -> Path:
    """The environment's interpreter, building or rebuilding the environment when needed."""
    if spec.status() == "built":
        return spec.interpreter
    return create(spec, quiet=quiet)


def create(spec: EnvSpec, *, force: bool = False, quiet: bool = False) -> Path:
    """Build ``spec`` with uv (when missing, stale or ``force``); returns its interpreter.

    Raises:
        EnvBuildError: uv failed; nothing is left behind and an older environment is kept.
        InputError: The environments' folder cannot be written.
    """
    with _build_lock(spec):
        if spec.status() == "built" and not force:  # another process may have built it
            return spec.interpreter
        build_hash = spec.build_hash()
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}.building-", dir=envs_dir()))
        try:
            python = tmp / "bin" / "python"
            # --relocatable: the folder is renamed after the build, so scripts must not
            # hard-code the temporary path.
            _uv(["venv", str(tmp), "--python", spec.python, "--relocatable"], spec, quiet)
            _uv(["pip", "sync", "--python", str(python), str(spec.lock)], spec, quiet)
            record = {
                "name": spec.name,
                "hash": build_hash,
                "python": spec.python,
                "lock": str(spec.lock),
                "built": datetime.now(UTC).isoformat(timespec="seconds"),
                "build_s": round(time.monotonic() - started, 1),
            }
            atomic_write_text(tmp / MARKER, json.dumps(record, indent=2))
            _swap_into_place(tmp, spec.path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"environment {spec.name!r} built in {spec.path}", file=sys.stderr)
    return spec.interpreter


def remove(spec: EnvSpec) -> None:
    """Delete the environment (the next ``ensure`` rebuilds it)."""
    with _build_lock(spec):
        shutil.rmtree(spec.path, ignore_errors=True)


def uv_command() -> list[str]:
    """How to call uv: ``$KPBENCH_UV``, ``uv`` on PATH, or ``python3.11 -m uv``."""
    if custom := os.environ.get("KPBENCH_UV"):
        return custom.split()
    if found := shutil.which("uv"):
        return [found]
    for python in (sys.executable, shutil.which("python3.11"), shutil.which("python3")):
        probe = [python, "-m", "uv", "--version"] if python else None
        if probe and subprocess.run(probe, capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    raise EnvBuildError("uv is not installed: `python3.11 -m pip install uv` (or set KPBENCH_UV)")


def _uv(args: list[str], spec: EnvSpec, quiet: bool) -> None:
    cmd = [*uv_command(), *args]
    # uv reads no pip configuration; keep a stray VIRTUAL_ENV from redirecting it.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run(cmd, env=env, capture_output=quiet, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-5:]) if quiet else ""
        raise EnvBuildError(
            f"building environment {spec.name!r} from {spec.lock} failed "
            f"(uv {args[0]} exited with {proc.returncode})" + (f": {tail}" if tail else "")
        )


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename the fresh build onto ``final``, replacing (then deleting) an older one."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(spec: EnvSpec) -> Iterator[None]:
    """Serialise builds of one environment across processes.

    Raises:
        InputError: The environments' folder cannot be written.
    """
    with (_writable_envs_dir() / f".{spec.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")
