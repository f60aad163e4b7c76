"""Atomic writes: all or nothing, the usual permissions, one clear error where writing fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from benchmark.errors import InputError
from benchmark.paths import atomic_path, atomic_write_text


def test_a_failed_write_leaves_the_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_new_files_get_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640


def test_writes_never_touch_the_process_umask(tmp_path: Path, monkeypatch) -> None:
    """Setting the umask, even briefly, races with other threads that create files (SLEAP's
    trainer writes checkpoints while the progress thread writes progress.json)."""
    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))
    atomic_write_text(tmp_path / "progress.json", "{}")
    assert calls == []


def test_an_unwritable_place_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(InputError, match=r"notes\.txt/split\.json: cannot write here"):
        atomic_write_text(blocker / "split.json", "{}")
    target = tmp_path / "folder"
    target.mkdir()
    with pytest.raises(InputError, match="folder: cannot write here"):
        atomic_write_text(target, "x")
