"""Fixtures for report tests: a fake run directory and its rendered report, and a run made by
the real runner with a training budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmark.report import render_report
from tests.run_fixtures import make_fake_run

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
VIDEO_MEAN = "tests.adapters_for_tests:VideoMeanPoseAdapter"
#: The budget run's training budget (s): ``mean`` (200 epochs of 0.04 s) is stopped by it.
BUDGET_S = 1.0


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


def _project(root: Path, name: str, seed: int, synthetic: bool) -> Path:
    """A DeepLabCut project of 12 generated frames; ``kpbench.yaml`` says whether it is
    synthetic (as kpbench's generators write it)."""
    from benchmark.io.dlc import write_dlc_project
    from tests.fixtures import make_blob_dataset

    ds = make_blob_dataset(root / f"{name}-frames", n_frames=12, seed=seed, name=name)
    project = root / name
    write_dlc_project(ds, project)
    species = "none (generated discs)" if synthetic else "test mouse"
    (project / "kpbench.yaml").write_text(
        yaml.safe_dump({"species": species, "synthetic": synthetic})
    )
    return project


@pytest.fixture(scope="session")
def budget_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the real runner with a 1 s training budget and 2 folds: datasets ``blobs``
    (synthetic, listed first) and ``arena`` (real); adapters ``mean`` (mean pose, 200 epochs
    of 0.04 s: stopped by the budget) and ``twin`` (the same final predictions through the
    video predictor, whose own score cutoff 0.9 is above all its scores; 4 epochs: finishes
    its schedule). Shared by every report test, which must not modify it."""
    from benchmark.runner.config import RunConfig
    from benchmark.runner.run import run

    root = tmp_path_factory.mktemp("budget")
    config = {
        "name": "budget",
        "datasets": [
            {"name": "blobs", "path": str(_project(root, "blobs", 1, synthetic=True))},
            {"name": "arena", "path": str(_project(root, "arena", 2, synthetic=False))},
        ],
        "adapters": [
            {"name": MEAN, "label": "mean", "config": {"epochs": 200, "sleep_s": 8.0}},
            {"name": VIDEO_MEAN, "label": "twin", "config": {"epochs": 4}},
        ],
        "threads": 1,
        "split": {"folds": 2},
        "budget": {"train_s": BUDGET_S},
    }
    path = root / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    run(RunConfig.load(path), root / "run", quiet=True)
    return root / "run"


@pytest.fixture(scope="session")
def budget_report(budget_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The markdown report of ``budget_run``."""
    return render_report(budget_run, tmp_path_factory.mktemp("budget-report") / "budget.md")
