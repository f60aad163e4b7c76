"""A full disk is named in one line, keeps every earlier result and leaves no empty folder.

The job-level test needs nothing special (its adapter writes to ``/dev/full``, which refuses
every write with ENOSPC as a full disk does); the others fill a small real tmpfs, which needs
root (``mount``), and are skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from benchmark.paths import code_root
from tests.unit.runner.test_run import FAILING, MEAN, _config


def _kpbench(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(code_root())}
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An empty 2 MB tmpfs (a real file system that can fill up), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    """Write until the file system refuses (ENOSPC)."""
    with pytest.raises(OSError, match="No space left"), (disk / "filler").open("wb") as fh:
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
            os.fsync(fh.fileno())


def test_a_job_that_runs_out_of_space_is_failed_as_such_and_the_others_are_kept(tmp_path, project):
    adapters = [{"name": MEAN, "label": "mean"}]
    adapters.append({"name": FAILING, "label": "full", "config": {"mode": "disk_full"}})
    proc = _kpbench("run", str(_config(tmp_path, project, adapters)), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    jobs = tmp_path / "run" / "jobs"
    full = json.loads((jobs / "blobs__fold0__full__seed0" / "job.json").read_text())
    assert full["status"] == "failed"
    assert full["error"].startswith("no space left on device"), full["error"]
    mean = json.loads((jobs / "blobs__fold0__mean__seed0" / "job.json").read_text())
    assert mean["status"] == "done"


def test_a_run_started_on_a_full_disk_is_one_line_and_leaves_no_folder(
    tmp_path, project, small_disk
):
    config = _config(tmp_path, project, [{"name": MEAN, "label": "mean"}])
    _fill(small_disk)
    out = small_disk / "run"
    proc = _kpbench("run", str(config), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"kpbench: error: no space left on device writing {out}")
    assert not out.exists()


def test_report_on_a_full_disk_is_one_line_and_keeps_the_run(tmp_path, project, small_disk):
    config = _config(tmp_path, project, [{"name": MEAN, "label": "mean"}])
    out = small_disk / "run"
    assert _kpbench("run", str(config), "--out", str(out), cwd=tmp_path).returncode == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    _fill(small_disk)
    proc = _kpbench("report", str(out), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "kpbench: error: no space left on device" in proc.stderr
    # Every stored result is still there (the report's half-written files are not).
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_track_on_a_full_disk_is_one_line_and_leaves_no_track_folder(tmp_path, small_disk):
    from benchmark.synthetic import generate

    project = generate("rat", tmp_path / "rat", n_frames=8, size=(160, 120))
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "datasets": [{"name": "rat", "path": str(project)}],
                "adapters": [{"name": MEAN, "label": "mean"}],
                "threads": 1,
            }
        )
    )
    out = small_disk / "run"
    assert _kpbench("run", str(config), "--out", str(out), cwd=tmp_path).returncode == 0
    _fill(small_disk)
    video = project / "videos" / "rat_openfield.mp4"
    argv = ["track", str(out), "--adapter", "mean", "--video", str(video), "--quiet"]
    proc = _kpbench(*argv, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "kpbench: error: no space left on device" in proc.stderr
    assert not (out / "tracks").exists()
