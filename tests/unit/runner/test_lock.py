"""One run per run folder: the lock, its holder's process id, and no stale lock after a kill."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.errors import InputError
from benchmark.paths import code_root
from benchmark.runner.lock import LOCK_FILE, check_free, holder, run_lock

HOLD = "import sys, time; from benchmark.runner.lock import run_lock\n" \
    "with run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)"  # fmt: skip


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder`` (until killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        cwd=code_root(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_folder_names_the_holder_and_is_not_touched(tmp_path):
    folder = tmp_path / "run"
    proc = _hold(folder)
    try:
        before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
        assert holder(folder) == proc.pid
        with pytest.raises(InputError, match=f"process {proc.pid}"):
            check_free(folder)
        taken = pytest.raises(InputError, match=f"another kpbench run .*process {proc.pid}")
        with taken, run_lock(folder):
            pytest.fail("took a lock another process holds")
        assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
        assert (folder / LOCK_FILE).read_text().strip() == str(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    folder = tmp_path / "run"
    proc = _hold(folder)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (folder / LOCK_FILE).exists()  # the file stays; the lock went with the process
    assert holder(folder) is None
    check_free(folder)
    with run_lock(folder):
        assert holder(folder) is not None
    assert holder(folder) is None


def test_a_folder_never_run_has_no_holder_and_holder_creates_nothing(tmp_path):
    assert holder(tmp_path / "missing") is None
    assert not (tmp_path / "missing").exists()
    assert holder(tmp_path) is None and list(tmp_path.iterdir()) == []


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    with pytest.raises(RuntimeError), run_lock(tmp_path):
        raise RuntimeError("boom")
    t0 = time.monotonic()
    with run_lock(tmp_path):
        pass
    assert time.monotonic() - t0 < 1
