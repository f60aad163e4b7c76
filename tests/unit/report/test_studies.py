"""The report's study sections (label efficiency, cross-dataset tests, sweeps), checked
against the run's stored tables."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark.records import JobRecord, read_record
from benchmark.report import render_report

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
MAPPING = {"snout": "snout", "left_ear": "left_ear", "tail_base": "tail_base"}


@pytest.fixture(scope="module")
def study_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run of the real runner and its report: datasets ``blobs`` (24 frames) and ``other``
    (12, another seed); one split with 2 inner folds; training sizes 4 and all; models of
    blobs tested on other (3 of 4 keypoints); adapters ``slow`` (mean pose, 40 epochs of
    0.1 s: the 0.5 s budget stops every job) and ``tuned`` (mean pose sweeping ``shift``
    over 0.3 and 0, chosen on the inner folds)."""
    from benchmark.io.dlc import write_dlc_project
    from benchmark.runner.config import RunConfig
    from benchmark.runner.run import run
    from tests.fixtures import make_blob_dataset

    root = tmp_path_factory.mktemp("studies")
    for name, n, seed in (("blobs", 24, 0), ("other", 12, 1)):
        ds = make_blob_dataset(root / f"{name}-frames", n_frames=n, seed=seed, name=name)
        write_dlc_project(ds, root / name)
    config = {
        "name": "studies",
        "datasets": [{"name": n, "path": str(root / n)} for n in ("blobs", "other")],
        "split": {"test_fraction": 0.25, "inner_folds": 2, "seed": 0},
        "adapters": [
            {"name": MEAN, "label": "slow", "config": {"epochs": 40, "sleep_s": 4.0}},
            {"name": MEAN, "label": "tuned", "sweep": {"shift": [0.3, 0.0]}},
        ],
        "threads": 1,
        "budget": {"train_s": 0.5},
        "train_sizes": [4, 1.0],
        "transfer": [{"train": "blobs", "test": "other", "keypoints": MAPPING}],
    }
    config["adapters"][1]["select_by"] = "validation"
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    run(RunConfig.load(root / "run.yaml"), root / "run", quiet=True)
    return root / "run", render_report(root / "run", root / "report.md").read_text()


def _section(text: str, heading: str) -> str:
    """From ``heading`` to the next heading of its level."""
    start = text.index(heading)
    end = text.find("\n" + heading.split()[0] + " ", start + len(heading))
    return text[start : end if end > 0 else None]


def _table_row(section: str, first_cell: str) -> list[str]:
    (line,) = [ln for ln in section.splitlines() if ln.startswith(f"| {first_cell} |")]
    return [c.strip() for c in line.strip("|").split("|")][1:]


def _mean(metrics: pd.DataFrame, **where) -> float:
    rows = metrics[(metrics["keypoint"] == "all") & (metrics["metric"] == "mean_px_all")]
    for key, value in where.items():
        rows = rows[rows[key].isna()] if value is None else rows[rows[key] == value]
    return float(rows["value"].mean())


def test_label_efficiency_table_has_each_size_and_marks_budget_stopped_jobs(study_report):
    run_dir, text = study_report
    section = _section(text, "## Label efficiency")
    metrics = pd.read_csv(run_dir / "metrics.csv")
    mine = metrics[(metrics["dataset"] == "blobs") & (metrics["test_dataset"] == "blobs")]
    small = _mean(mine, adapter="slow", train_size=4)
    full = _mean(mine, adapter="slow", train_size=None)
    blobs = _section(section, "### blobs")
    assert "| adapter | 4 | all (18) |" in blobs
    smallest = "4" if small <= 1.1 * full else "18"
    assert _table_row(blobs, "slow") == [f"{small:.1f}†", f"{full:.1f}†", smallest]
    assert "† The training budget stopped" in blobs
    # A select_by sweep has no training subsets: not in this table.
    assert "| tuned |" not in section
    assert (run_dir.parent / "report" / "blobs_label_efficiency.png").stat().st_size > 0


def test_transfer_table_puts_the_other_datasets_error_beside_the_within_error(study_report):
    run_dir, text = study_report
    section = _section(text, "## Cross-dataset tests")
    assert "Left out: blobs: right_ear; other: right_ear." in section
    errors = pd.read_csv(run_dir / "frame_errors.csv")
    full = errors[errors["train_size"].isna() & errors["inner_fold"].isna()]
    for adapter in ("slow", "tuned"):
        own = full[(full["adapter"] == adapter) & (full["dataset"] == "blobs")]
        within = own[(own["test_dataset"] == "blobs") & own["keypoint"].isin(MAPPING)]
        across = own[own["test_dataset"] == "other"]
        theirs = full[
            (full["adapter"] == adapter)
            & (full["dataset"] == "other")
            & (full["test_dataset"] == "other")
            & full["keypoint"].isin(MAPPING.values())
        ]
        w, a, t = (part["scored_px"].mean() for part in (within, across, theirs))
        mark = "†" if adapter == "slow" else ""  # the budget stopped slow on both datasets
        row = [f"{w:.1f}", f"{a:.1f}", f"{a / w:.1f}×", f"{t:.1f}{mark}"]
        assert _table_row(section, adapter + mark) == row
    assert "† The training budget stopped these models" in section
    assert (run_dir.parent / "report" / "transfer_blobs__other.png").stat().st_size > 0


def test_sweep_section_bolds_the_point_chosen_on_inner_folds(study_report):
    run_dir, text = study_report
    section = _section(_section(text, "## Sweeps"), "### tuned on blobs")
    record = read_record(run_dir / "jobs/blobs__fold0__tuned__seed0/job.json", JobRecord)
    assert record.selection is not None
    chosen = record.selection["chosen"]
    assert chosen == "tuned@shift=0.0"  # shifting the mean pose can only add error
    for label, point in record.selection["points"].items():
        cell = f"{point['mean']:.1f}"
        expected = f"**{cell}**" if label == chosen else cell
        assert _table_row(section, f"`{label.split('@')[1]}`") == [expected]
    metrics = pd.read_csv(run_dir / "metrics.csv")
    tuned = _mean(metrics, adapter="tuned", dataset="blobs", test_dataset="blobs", train_size=None)
    assert _table_row(section, "tuned") == [f"{tuned:.1f}", f"{tuned:.1f}"]
    assert re.search(r"^\| slow \|", section, re.M)  # the run's unswept entry beside it
    assert (run_dir.parent / "report" / "blobs_sweep_tuned.png").stat().st_size > 0
