"""The report of a run made by the real runner with a training budget: the verdict, the
ranking with ties, learning curves, own cutoffs, how training ended and the fold spread."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.records import JobRecord, read_datasets, read_record
from benchmark.report import render_report
from benchmark.report.summary import fmt_duration
from tests.unit.report.conftest import BUDGET_S
from tests.unit.report.test_render import _rows, _section, _table


def _overall(run_dir: Path, dataset: str) -> pd.DataFrame:
    m = pd.read_csv(run_dir / "metrics.csv")
    return m[(m["dataset"] == dataset) & (m["keypoint"] == "all")]


def test_verdict_puts_real_data_first_and_synthetic_sections_say_rendered(
    budget_run: Path, budget_report: Path
) -> None:
    records = read_datasets(budget_run / "datasets.json")
    assert list(records) == ["blobs", "arena"]  # the run's order: synthetic first
    assert records["blobs"].synthetic and not records["arena"].synthetic
    md = budget_report.read_text()
    verdict = _rows(md, "## Verdict")
    assert list(verdict) == ["arena", "blobs"]
    assert verdict["arena"][0] == "real (test mouse)"
    assert verdict["blobs"][0] == "synthetic (rendered)"
    assert md.index("\n## arena (") < md.index("\n## blobs (") < md.index("## Failed jobs")
    first_line = _section(md, "blobs").splitlines()[3]
    assert first_line.startswith("**Synthetic data: these frames are rendered, not filmed.**")
    assert "rendered" not in _section(md, "arena")
    assert "mean px (all)" in md[: md.index("\n## arena (")]
    assert "counts misses" in md and "half the frame's diagonal" in md


def test_identical_adapters_are_not_distinguishable_and_marked_as_tied(
    budget_run: Path, budget_report: Path
) -> None:
    errors = pd.read_csv(budget_run / "frame_errors.csv")
    keys = ["dataset", "fold", "frame_id", "keypoint"]
    by = {a: g.set_index(keys)["scored_px"].sort_index() for a, g in errors.groupby("adapter")}
    pd.testing.assert_series_equal(by["mean"], by["twin"], check_names=False)

    md = budget_report.read_text()
    best, mean_all, median, ties, verdict = _rows(md, "## Verdict")["arena"][1:]
    assert (best, ties) == ("**mean**", "twin")  # equal means: by name
    assert verdict in ("final", "**provisional**")
    assert (verdict == "**provisional**") == ("- **Provisional on arena**: " in md)
    expected = _overall(budget_run, "arena")
    expected = expected[expected["metric"] == "mean_px_all"].groupby("adapter")["value"].mean()
    assert mean_all == f"{expected['mean']:.2f}"
    pooled = errors[errors["dataset"] == "arena"].groupby(keys)["scored_px"].mean()
    assert median.startswith(f"{pooled.median():.2f} (")

    section = _section(md, "arena")
    accuracy = _table(section, "Accuracy")
    assert list(accuracy) == ["mean", "twin"]
    assert accuracy["mean"][1:3] == ["1", "**best**"]
    assert accuracy["twin"][1:3] == ["1", "not distinguishable"]
    assert "mean and twin: not distinguishable on this data (difference +0.00 px" in section
    pairs = _table(section, "Ranking")
    assert pairs["mean − twin"] == [
        "+0.00",
        "+0.00 to +0.00",
        str(len(errors[(errors["dataset"] == "arena") & (errors["adapter"] == "mean")])),
        "not distinguishable",
    ]
    summary = section[section.index("### Summary") : section.index("### Ranking")]
    assert "(best of 2 by mean px (all), not distinguishable from twin)" in summary
    assert "best of" not in summary.split("median error", 1)[1].split(";")[0]


def _expected_at(curves: pd.DataFrame, adapter: str, metric: str, fraction: float, total):
    """Mean over the adapter's jobs of ``metric`` at ``fraction`` of the budget (``total``:
    the budget, or None for each job's own final time), read straight from curves.csv."""
    values = []
    rows = curves[(curves["adapter"] == adapter) & (curves["metric"] == metric)]
    for _, job in rows.groupby(["fold", "seed"]):
        final = job[job["final"]]
        if fraction == 1.0:
            values.append(float(final["value"].iloc[0]))
            continue
        limit = fraction * (total or float(final["train_s"].iloc[0]))
        before = job[job["train_s"] <= limit].sort_values("train_s")
        if len(before):
            values.append(float(before["value"].iloc[-1]))
    return np.mean(values) if values else None


def _check_curve_table(section: str, curves: pd.DataFrame, total: float | None) -> None:
    table = _table(section, "Learning curves")
    assert list(table) == ["mean", "twin"]
    for adapter, cells in table.items():
        expected = [
            _expected_at(curves, adapter, metric, f, total)
            for metric in ("mean_px_all", "median_px")
            for f in (0.25, 0.5, 1.0)
        ]
        assert [c.rstrip("*") for c in cells] == [
            "—" if e is None else f"{e:.2f}" for e in expected
        ], adapter


def test_learning_curve_figure_and_table_at_25_50_100_percent_of_the_budget(
    budget_run: Path, budget_report: Path
) -> None:
    md = budget_report.read_text()
    section = _section(md, "arena")
    link = "budget/arena_curves.png"
    assert f"![Learning curves]({link})" in section
    with Image.open(budget_report.parent / link) as im:
        assert min(im.size) > 300
    curves = pd.read_csv(budget_run / "curves.csv")
    curves = curves[curves["dataset"] == "arena"]
    mean_jobs = curves[curves["adapter"] == "mean"].groupby(["fold", "seed"])
    assert all(g["epoch"].nunique() >= 6 for _, g in mean_jobs)  # 5 snapshots + the final
    _check_curve_table(section, curves, BUDGET_S)
    header = next(
        ln for ln in section.splitlines() if ln.startswith("| adapter | mean px (all) at")
    )
    assert "mean px (all) at 25% (0.2 s)" in header and "median px at 100% (1.0 s)" in header
    assert f"Percentages are of the budget ({fmt_duration(BUDGET_S)})." in section


def test_without_a_budget_each_jobs_own_time_is_100_percent_and_the_report_says_so(
    budget_run: Path, tmp_path: Path
) -> None:
    run_dir = shutil.copytree(budget_run, tmp_path / "run")
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["config"]["budget"] = {"train_s": None}
    (run_dir / "run.json").write_text(json.dumps(manifest))
    section = _section(render_report(run_dir, tmp_path / "r.md").read_text(), "arena")
    assert "This run had no training budget: 100% is each job's own final training time." in (
        section
    )
    curves = pd.read_csv(run_dir / "curves.csv")
    _check_curve_table(section, curves[curves["dataset"] == "arena"], None)
    assert "Training budget: none" in section


def test_own_cutoff_table_applies_each_frameworks_cutoff(
    budget_run: Path, budget_report: Path
) -> None:
    section = _section(budget_report.read_text(), "arena")
    table = _table(section, "With each framework's own cutoff")
    overall = _overall(budget_run, "arena").groupby(["adapter", "metric"])["value"].mean()
    # twin's predictor has its own cutoff, 0.9, above every score it gives: all removed.
    assert overall["twin", "score_cutoff"] == 0.9 and overall["twin", "cutoff_detection_rate"] == 0
    assert table["twin"][:3] == ["0.9", "0.0%", "—"]
    assert table["twin"][4:] == ["0.0%"] * 4  # PCK at each of the run's 4 thresholds
    # mean has no cutoff of its own: its users see every location.
    assert ("mean", "score_cutoff") not in overall.index
    median = f"{overall['mean', 'median_px']:.2f}"
    assert table["mean"][:3] == ["none: every location counts", "100.0%", median]
    assert "counts as not detected" in section and "every location a framework returned" in section


def test_timing_says_who_stopped_by_budget_and_shows_setup_apart(
    budget_run: Path, budget_report: Path
) -> None:
    section = _section(budget_report.read_text(), "arena")
    timing = _table(section, "Timing")
    jobs = [read_record(p, JobRecord) for p in budget_run.glob("jobs/arena__*/job.json")]
    mean_done = sorted({j.training.epochs_done for j in jobs if j.adapter == "mean"})
    assert all(j.training.stopped_by_budget for j in jobs if j.adapter == "mean")
    assert not any(j.training.stopped_by_budget for j in jobs if j.adapter == "twin")
    span = "–".join(map(str, dict.fromkeys([mean_done[0], mean_done[-1]])))
    assert timing["mean"][1:3] == ["stopped by budget", f"{span} / 200"]
    assert timing["twin"][1:3] == ["finished its schedule", "4 / 4"]
    setup = _overall(budget_run, "arena")
    setup = setup[setup["metric"] == "setup_s"].groupby("adapter")["value"].mean()
    assert timing["mean"][4] == fmt_duration(setup["mean"])
    assert "setup (not in train time)" in section
    assert f"Training budget: {fmt_duration(BUDGET_S)} of training per job" in section
    summary = section[section.index("### Summary") : section.index("### Ranking")]
    assert f"of 200 planned epochs in {timing['mean'][3]}" in summary
    assert "stopped by budget" in summary and "finished its schedule" in summary


def test_spread_over_folds_of_the_ranking_metric(budget_run: Path, budget_report: Path) -> None:
    section = _section(budget_report.read_text(), "arena")
    table = _table(section, "Spread over folds")
    overall = _overall(budget_run, "arena")
    per_fold = overall[overall["metric"] == "mean_px_all"].groupby(["adapter", "fold"])["value"]
    per_fold = per_fold.mean()
    for adapter in ("mean", "twin"):
        values = per_fold[adapter]
        assert table[adapter][:3] == [
            "2",
            f"{values.mean():.2f}",
            f"{values.min():.2f}–{values.max():.2f}",
        ]
        assert table[adapter][3] == f"fold 0: {values[0]:.2f}, fold 1: {values[1]:.2f}"


def test_rendering_the_budget_run_twice_gives_the_same_markdown(
    budget_run: Path, budget_report: Path, tmp_path: Path
) -> None:
    again = render_report(budget_run, tmp_path / "budget.md")
    assert again.read_text() == budget_report.read_text()


@pytest.mark.parametrize("dataset", ["arena", "blobs"])
def test_every_dataset_has_its_curve_figure(budget_report: Path, dataset: str) -> None:
    assert (budget_report.parent / "budget" / f"{dataset}_curves.png").is_file()


def test_the_leader_at_each_budget_fraction_is_said_in_words(budget_report: Path) -> None:
    from benchmark.report.render import _leader_words

    def at(fraction: float) -> str:
        return f"{100 * fraction:.0f}% ({fmt_duration(fraction * 240)})"

    summary = pd.DataFrame(
        {
            "adapter": ["a"] * 3 + ["b"] * 3,
            "fraction": [0.25, 0.5, 1.0] * 2,
            "mean_px_all": [10.0, 5.0, 3.0, 8.0, 6.0, 4.0],
        }
    )
    assert _leader_words(summary, at) == (
        "By mean px (all) (percentages of the budget): at 25% (60 s) b leads; from 50% "
        "(2.0 min) a. The ranking changes with the training time."
    )
    steady = summary.assign(mean_px_all=[1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    assert _leader_words(steady, at, budget=False) == (
        "By mean px (all), a leads at 25% (60 s), 50% (2.0 min) and 100% (4.0 min) of each "
        "job's own training time."
    )
    assert _leader_words(summary[summary["adapter"] == "a"], at) is None
    # In the budget run's report, the sentence names the leaders of its own table.
    section = _section(budget_report.read_text(), "arena")
    table = _table(section, "Learning curves")
    first = min(table, key=lambda a: (float(table[a][0].rstrip("*")), a))
    assert f"By mean px (all) (percentages of the budget): at 25% (0.2 s) {first} " in section or (
        f"By mean px (all), {first} " in section
    )
