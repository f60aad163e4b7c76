"""Facts recorded with every result: code version, host, hashes."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from benchmark.paths import code_root


def git_commit() -> str | None:
    """The git commit of kpbench's code (suffixed ``-dirty`` with uncommitted changes), or
    None when that code is not a git checkout (an installed wheel) or git is missing."""
    try:
        # Installed code may sit inside someone else's repository (a project's .venv).
        if Path(_git("rev-parse", "--show-toplevel")).resolve() != code_root():
            return None
        head = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if dirty else head


def _git(*args: str) -> str:
    """Run git in the folder of kpbench's code; raises when it fails."""
    out = subprocess.run(
        ["git", *args], cwd=code_root(), capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict[str, Any]:
    """CPU, core count, memory, GPU and OS of this machine."""
    import psutil

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "gpu": None,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        info["torch"] = None
    return info
