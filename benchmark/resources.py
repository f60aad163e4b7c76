"""The compute a kpbench process uses: thread counts it sets, peak memory it reports."""

from __future__ import annotations

import contextlib
import os
import resource


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap BLAS/OpenMP threads in a child process."""
    value = str(threads)
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value, "OPENBLAS_NUM_THREADS": value}


def set_threads(threads: int) -> None:
    """Pin torch's intra- and inter-op thread counts (children get :func:`thread_env`)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)
    # Fails when an earlier parallel op in this process already fixed it; that is fine.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(max(1, min(threads, 2)))


def peak_rss_mb(children: bool = True) -> float:
    """Peak resident memory of this process (or, with ``children``, its largest finished
    child) in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if children else 0
    return max(own, child) / 1024.0  # ru_maxrss is KiB on Linux
