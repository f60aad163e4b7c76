"""Fixtures for report tests: a fake run directory and its rendered report."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.report import render_report
from tests.run_fixtures import make_fake_run


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory: datasets ``blobs`` (heatmap, trackrat, deeplabcut, sleap x 2 folds;
    sleap's fold 0 failed; trackrat misses tail_base in most frames) and ``blobs_solo``
    (heatmap only). Shared by a module's tests, which must not modify it."""
    return make_fake_run(tmp_path_factory.mktemp("fake"))


@pytest.fixture(scope="module")
def rendered(fake_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The markdown report of ``fake_run``, rendered once per module."""
    return render_report(fake_run, tmp_path_factory.mktemp("report") / "fake-run.md")
