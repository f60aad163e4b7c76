"""Rendering the markdown report from a stored (fake) run directory."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from benchmark.errors import InputError
from benchmark.report import render_report
from benchmark.report.load import load_run
from benchmark.report.render import default_report_path
from tests.run_fixtures import FakeAdapter, make_fake_run


def _section(md: str, dataset: str) -> str:
    """The markdown of one dataset's ``## name (...)`` section."""
    start = md.index(f"\n## {dataset} (")
    end = md.find("\n## ", start + 1)
    return md[start : end if end > 0 else None]


def _table(section: str, heading: str) -> dict[str, list[str]]:
    """Rows (first cell -> other cells) of the first table under ``### heading``."""
    return _rows(section, f"### {heading}")


def _rows(md: str, heading: str) -> dict[str, list[str]]:
    """Rows of the first table after ``heading`` (a line of its own), first cell -> rest."""
    lines = md[md.index(heading + "\n") :].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows: dict[str, list[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows[cells[0]] = cells[1:]
    return rows


def _expected(run_dir: Path, dataset: str) -> pd.DataFrame:
    """Overall metrics averaged over each adapter's jobs, straight from metrics.csv."""
    m = pd.read_csv(run_dir / "metrics.csv")
    m = m[(m["dataset"] == dataset) & (m["keypoint"] == "all")]
    return m.groupby(["adapter", "metric"])["value"].mean().unstack()


def test_accuracy_table_has_every_adapter_with_numbers_from_metrics_csv(
    fake_run: Path, rendered: Path
) -> None:
    table = _table(_section(rendered.read_text(), "blobs"), "Accuracy")
    expected = _expected(fake_run, "blobs")
    assert set(table) == {"heatmap", "trackrat", "deeplabcut", "sleap"}
    for adapter, row in expected.iterrows():
        _, rank, vs_best, mean_all, *cells = table[adapter]
        # A run from before the ranking metric: no rank, no mean px (all).
        assert (rank, vs_best, mean_all) == ("—", "—", "—")
        mean = (
            f"{row['mean_px']:.2f} ({row['mean_px_ci95_low']:.2f}–{row['mean_px_ci95_high']:.2f})"
        )
        assert cells[0] == mean
        assert cells[1:4] == [f"{row[k]:.2f}" for k in ("median_px", "rmse_px", "p90_px")]
        # Every PCK threshold of the run (the defaults here), then detection.
        keys = ("pck@2", "pck@5", "pck@10", "pck@20", "detection_rate")
        assert cells[4:9] == [f"{100 * row[k]:.1f}%" for k in keys]
    assert table["heatmap"][0] == "2"
    assert table["sleap"][0] == "1 (+1 failed)"  # fold 0 failed, fold 1 done
    # Without the ranking metric, rows are sorted by median error (and nobody is "best").
    assert list(table) == list(expected["median_px"].sort_values().index)
    assert "**best**" not in _section(rendered.read_text(), "blobs")


def test_timing_table_shows_train_time_memory_and_threads(fake_run: Path, rendered: Path) -> None:
    table = _table(_section(rendered.read_text(), "blobs"), "Timing")
    expected = _expected(fake_run, "blobs")
    trackrat = table["trackrat"]
    # A run from before budgets: how training ended and the setup time are not recorded.
    assert trackrat[1:3] == ["not recorded", "—"] and trackrat[4] == "—"
    assert trackrat[3] == f"{expected.loc['trackrat', 'train_s']:.0f} s"  # under 90 s
    assert table["deeplabcut"][3] == f"{expected.loc['deeplabcut', 'train_s'] / 60:.1f} min"
    assert trackrat[8] == f"{expected.loc['trackrat', 'peak_rss_mb']:.0f} MB"
    assert trackrat[-1] == "2 CPU threads"
    assert "hardware: Fake CPU @ 2.0GHz (2 cores); GPU: none" in rendered.read_text()


def test_a_run_from_before_budgets_and_curves_says_what_it_lacks(rendered: Path) -> None:
    md = rendered.read_text()
    section = _section(md, "blobs")
    assert "No ranking with uncertainty: this run's `frame_errors.csv` has no `scored_px`" in (
        section
    )
    assert "No learning curves: this run has no `curves.csv`" in section
    assert "predates the own-cutoff metrics" in section
    assert "Training budget: not recorded (the run predates training budgets)." in section
    verdict = md[md.index("## Verdict") : md.index("\n## blobs (")]
    assert "| blobs | synthetic (rendered) | — | — | — | no ranking" in verdict


def test_single_adapter_dataset_renders_its_own_tables(rendered: Path) -> None:
    section = _section(rendered.read_text(), "blobs_solo")
    assert list(_table(section, "Accuracy")) == ["heatmap"]
    assert "(best of" not in section  # no ranking with a single adapter


def test_per_keypoint_table_flags_a_mostly_missed_keypoint(fake_run: Path, rendered: Path) -> None:
    section = _section(rendered.read_text(), "blobs")
    header = next(ln for ln in section.splitlines() if ln.startswith("| keypoint |"))
    adapters = [c.strip() for c in header.strip("|").split(" | ")][1:]
    table = _table(section, "Per keypoint")
    m = pd.read_csv(fake_run / "metrics.csv")
    det = m[(m["dataset"] == "blobs") & (m["metric"] == "detection_rate")]
    det = det.groupby(["adapter", "keypoint"])["value"].mean()
    assert det["trackrat", "tail_base"] < 0.5
    for keypoint, cells in table.items():
        for adapter, cell in zip(adapters, cells, strict=True):
            flagged = det[adapter, keypoint] < 0.5
            assert ("⚠" in cell) == flagged, (adapter, keypoint, cell)
            assert f"{100 * det[adapter, keypoint]:.1f}%" in cell
    assert "detected in fewer than half" in section
    summary = section[section.index("### Summary") : section.index("### Accuracy")]
    miss = 100 * (1 - det["trackrat", "tail_base"])
    assert f"missed tail_base in {miss:.0f}% of labelled frames" in summary
    assert "trained 40 epochs" in summary


def test_figures_and_overlays_are_valid_pngs_linked_relatively(rendered: Path) -> None:
    md = rendered.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    # blobs and blobs_solo: ECDF, per-keypoint bars, time scatter and overlay each.
    assert len(links) == 8
    for link in links:
        assert not Path(link).is_absolute()
        path = rendered.parent / link
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert min(im.size) > 200
    assert {Path(link).parent.name for link in links} == {"fake-run"}


def test_failed_job_is_listed_with_error_and_stderr_tail(rendered: Path) -> None:
    md = rendered.read_text()
    failed = md[md.index("## Failed jobs") : md.index("## Provenance")]
    assert "`blobs__fold0__sleap__seed0`" in failed
    assert "RuntimeError: CUDA out of memory (fake)" in failed
    assert "log line 39" in failed
    assert "log line 0\n" not in failed  # only the tail of stderr


def test_provenance_schedule_notes_and_dataset_kind(rendered: Path) -> None:
    md = rendered.read_text()
    assert "`0123456789abcdef0123456789abcdef01234567`" in md
    assert "| heatmap | 0.1.0 | torch 2.15.0 |" in md
    assert "## blobs (synthetic, none (generated discs))" in md
    schedules = _table(_section(md, "blobs"), "Schedules and notes")
    assert "epochs=40" in schedules["heatmap"][1]
    assert schedules["heatmap"][2] == "pretrained=False"


def test_schedule_cell_is_short_and_every_option_is_listed_below(
    fake_run: Path, tmp_path: Path
) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    options = {f"option_{i:02d}": i * 1.5 for i in range(30)}
    long_note = "x" * 150
    for job_json in run_dir.glob("jobs/blobs__*__deeplabcut__*/job.json"):
        record = json.loads(job_json.read_text())
        record["adapter_config"] = {"net_type": "resnet_50", "epochs": 4, **options}
        record["notes"] = {"pretrained": False, "pretrained_reason": long_note}
        job_json.write_text(json.dumps(record))
    section = _section(render_report(run_dir, tmp_path / "r.md").read_text(), "blobs")
    row = _table(section, "Schedules and notes")["deeplabcut"]
    assert row[1] == "net_type=resnet_50, epochs=4 (+30 more)"
    assert len(row[2]) <= 80 and row[2].endswith("…")
    details = section[section.index("<details>") : section.index("</details>")]
    assert "<summary>" in details
    (line,) = [ln for ln in details.splitlines() if ln.startswith("- **deeplabcut** schedule:")]
    assert line.count("`") == 2 * 32  # each of the 32 options in its own code span
    assert "`option_29=43.5`" in line and "`net_type=resnet_50`" in line
    assert f"`pretrained_reason={long_note}`" in details
    assert "- **heatmap** schedule: `epochs=40`, `batch_size=8`" in details


def test_schedules_table_says_what_was_recommended_and_overridden(
    fake_run: Path, tmp_path: Path
) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    line = "sleap-nn recommended input_scale 1.0, sigma 7.5; the run config set input_scale 0.25"
    for job_json in run_dir.glob("jobs/blobs__*__sleap__*/job.json"):
        record = json.loads(job_json.read_text())
        record["notes"] = {
            "model_type": "single_instance",
            "recommended": {"input_scale": 1.0, "sigma": 7.5},
            "overridden": {"input_scale": {"recommended": 1.0, "used": 0.25}},
            "recommendation": line,
        }
        job_json.write_text(json.dumps(record))
    section = _section(render_report(run_dir, tmp_path / "r.md").read_text(), "blobs")
    assert _table(section, "Schedules and notes")["sleap"][2] == (
        line + "; model_type=single_instance"
    )
    assert "`overridden.input_scale.used=0.25`" in section  # every note, below the table


def test_rerendering_gives_identical_markdown(
    fake_run: Path, rendered: Path, tmp_path: Path
) -> None:
    again = render_report(fake_run, tmp_path / "fake-run.md")
    assert again.read_text() == rendered.read_text()


def test_the_run_configs_description_is_printed_under_the_title(
    fake_run: Path, rendered: Path, tmp_path: Path
) -> None:
    assert rendered.read_text().split("\n", 2)[1] == ""  # no description: nothing added
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["config"]["description"] = "A quick look: how fast each framework starts learning."
    (run_dir / "run.json").write_text(json.dumps(manifest))
    lines = render_report(run_dir, tmp_path / "r.md").read_text().splitlines()
    assert lines[:3] == [
        f"# kpbench report: {load_run(run_dir).name}",
        "",
        "> A quick look: how fast each framework starts learning.",
    ]


def test_real_species_is_named(fake_run: Path, tmp_path: Path) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    meta = json.loads((run_dir / "datasets.json").read_text())
    meta["blobs"].update(species="mouse", synthetic=False)
    (run_dir / "datasets.json").write_text(json.dumps(meta))
    md = render_report(run_dir, tmp_path / "r.md").read_text()
    assert "## blobs (real data, mouse)" in md


def test_run_with_only_failed_jobs_is_an_input_error_and_writes_nothing(tmp_path: Path) -> None:
    adapters = (FakeAdapter("heatmap", 1.0, failed_folds=(0, 1)),)
    run_dir = make_fake_run(tmp_path / "data", adapters=adapters)
    with pytest.raises(InputError, match=r"no finished jobs: 3 failed \(see ") as info:
        render_report(run_dir, tmp_path / "r.md")
    assert info.value.path == run_dir
    assert "jobs/*/job.json" in str(info.value)
    assert "RuntimeError: CUDA out of memory (fake)" in str(info.value)  # the first error
    assert "\n" not in str(info.value)
    assert not (tmp_path / "r.md").exists() and not (tmp_path / "r").exists()


def test_failed_and_skipped_jobs_are_counted_apart(fake_run: Path, tmp_path: Path) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    for i, job_json in enumerate(sorted(run_dir.glob("jobs/*/job.json"))):
        record = json.loads(job_json.read_text())
        record["status"] = "skipped" if i < 2 else "failed"
        job_json.write_text(json.dumps(record))
    with pytest.raises(InputError, match="no finished jobs: 7 failed, 2 skipped"):
        render_report(run_dir, tmp_path / "r.md")


def test_run_without_jobs_is_an_input_error(fake_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copyfile(fake_run / "run.json", run_dir / "run.json")
    with pytest.raises(InputError, match="no jobs in this run: nothing to report"):
        render_report(run_dir, tmp_path / "r.md")
    assert not (tmp_path / "r.md").exists()


def test_job_counts_and_failed_section_say_what_happened(rendered: Path, tmp_path: Path) -> None:
    md = rendered.read_text()
    assert "9 jobs: 8 finished, 1 failed.\n" in md
    assert "every job finished" not in md and "jobs finished." not in md
    run_dir = make_fake_run(tmp_path / "data", adapters=(FakeAdapter("a", 1.0),))
    done = render_report(run_dir, tmp_path / "all-done.md").read_text()
    assert "3 jobs: 3 finished.\n" in done
    failed = done[done.index("## Failed jobs") : done.index("## Provenance")]
    assert "None: all 3 jobs finished." in failed


def test_missing_optional_files_and_fields_still_render(fake_run: Path, tmp_path: Path) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    for name in ("metrics.csv", "frame_errors.csv", "datasets.json"):
        (run_dir / name).unlink()
    shutil.rmtree(run_dir / "groundtruth")
    for job_json in run_dir.glob("jobs/*/job.json"):
        record = json.loads(job_json.read_text())
        for key in ("timing", "model", "notes", "adapter_config", "environment", "provenance"):
            record.pop(key, None)
        job_json.write_text(json.dumps(record))
    run = json.loads((run_dir / "run.json").read_text())
    run.pop("host")
    (run_dir / "run.json").write_text(json.dumps(run))
    md = render_report(run_dir, tmp_path / "r.md").read_text()
    assert "| heatmap | 2 | — |" in md
    assert "No overlay: the run holds no ground truth" in md
    assert "hardware: not recorded" in md


def test_load_run_reads_every_job_and_dataset(fake_run: Path) -> None:
    results = load_run(fake_run)
    assert len(results.jobs) == 9
    assert results.dataset_names() == ["blobs", "blobs_solo"]


def test_not_a_run_directory_is_an_input_error(fake_run: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a kpbench run directory"):
        render_report(tmp_path, tmp_path / "r.md")
    # Job folders without the run's run.json are not a run either.
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    (run_dir / "run.json").unlink()
    with pytest.raises(InputError, match=r"not a kpbench run directory \(no run.json") as info:
        render_report(run_dir, tmp_path / "r.md")
    assert info.value.path == run_dir
    with pytest.raises(InputError, match="run directory not found"):
        render_report(tmp_path / "nope", tmp_path / "r.md")


def test_corrupt_job_json_names_the_file(fake_run: Path, tmp_path: Path) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    bad = run_dir / "jobs" / "blobs__fold0__heatmap__seed0" / "job.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON") as info:
        render_report(run_dir, tmp_path / "r.md")
    assert info.value.path == bad
    assert not (tmp_path / "r.md").exists()


def test_default_output_is_report_md_in_the_run_folder(fake_run: Path) -> None:
    assert default_report_path(load_run(fake_run)) == fake_run / "report.md"


def test_pck_columns_and_overlay_rows_follow_the_run_config(tmp_path: Path) -> None:
    """The report reads the run's thresholds and overlay_frames, not constants."""
    from PIL import Image

    from tests.run_fixtures import make_fake_run

    heights = {}
    for frames in (2, 4):
        run = make_fake_run(
            tmp_path / f"r{frames}", config={"thresholds": [3, 7.5], "overlay_frames": frames}
        )
        md = render_report(run, tmp_path / f"r{frames}.md").read_text()
        header = next(line for line in md.splitlines() if line.startswith("| adapter | jobs |"))
        assert "PCK@3 | PCK@7.5" in header and "PCK@5" not in header
        row = next(line for line in md.splitlines() if line.startswith("| heatmap | 2 |"))
        assert row.count("%") == 3  # PCK@3, PCK@7.5, detected: numbers, not "—"
        overlay = next((tmp_path / f"r{frames}").glob("**/blobs_overlay.png"))
        heights[frames] = Image.open(overlay).height
    assert heights[2] < heights[4]
    # overlay_frames: 0 (which the run config accepts) renders without a grid.
    run = make_fake_run(tmp_path / "r0", config={"overlay_frames": 0})
    md = render_report(run, tmp_path / "r0.md").read_text()
    assert "No overlay: the run config asks for none (overlay_frames: 0)." in md
    assert not list((tmp_path / "r0").glob("**/*_overlay.png"))


def test_a_run_in_progress_says_so_and_counts_every_planned_job(tmp_path: Path) -> None:
    from dataclasses import replace

    from benchmark.records import RunManifest, read_record, write_record
    from tests.unit.runner.test_lock import _hold

    run_dir = make_fake_run(tmp_path / "data", adapters=(FakeAdapter("a", 1.0),))
    manifest = read_record(run_dir / "run.json", RunManifest)
    write_record(run_dir / "run.json", replace(manifest, planned_jobs=5))  # 2 not run yet
    holder = _hold(run_dir)
    try:
        md = render_report(run_dir, tmp_path / "r.md").read_text()
    finally:
        holder.kill()
        holder.wait()
    assert "5 jobs: 3 finished, 2 not run yet.\n" in md
    assert f"**This run is in progress** (process {holder.pid}): 3 of 5 jobs done." in md
    failed = md[md.index("## Failed jobs") : md.index("## Provenance")]
    assert "None so far (3 finished, 2 not run yet)." in failed
    # Once the run has ended (here: was stopped), the report no longer says it runs.
    md = render_report(run_dir, tmp_path / "r.md").read_text()
    assert "in progress" not in md and "5 jobs: 3 finished, 2 not run yet.\n" in md


def test_the_header_counts_study_jobs_too(tmp_path: Path) -> None:
    from dataclasses import replace

    from benchmark.records import JobRecord, read_record, write_record

    run_dir = make_fake_run(tmp_path / "data", adapters=(FakeAdapter("a", 1.0),))
    for path in sorted(run_dir.glob("jobs/*/job.json")):
        record = read_record(path, JobRecord)
        job_id = f"{record.job_id}__n4"
        (run_dir / "jobs" / job_id).mkdir()
        small = replace(record, job_id=job_id, train_size=4)
        write_record(run_dir / "jobs" / job_id / "job.json", small)
    md = render_report(run_dir, tmp_path / "r.md").read_text()
    assert "6 jobs: 6 finished.\n" in md


def test_the_overlay_names_an_adapter_it_cannot_show(fake_run: Path, tmp_path: Path) -> None:
    run_dir = shutil.copytree(fake_run, tmp_path / "run")
    for fold in (0, 1):  # deeplabcut's jobs are done, but their predictions went missing
        (run_dir / "jobs" / f"blobs__fold{fold}__deeplabcut__seed0" / "predictions.csv").unlink()
    md = _section(render_report(run_dir, tmp_path / "r.md").read_text(), "blobs")
    assert "test frames of fold 1" in md
    assert "Not shown: deeplabcut (its predictions file is missing)." in md


def test_a_model_that_learned_nothing_is_flagged_in_the_verdict_and_its_summary(
    tmp_path: Path,
) -> None:
    adapters = (FakeAdapter("good", 1.0), FakeAdapter("stuck", 1.0, constant=True))
    run_dir = make_fake_run(tmp_path / "data", adapters=adapters)
    md = render_report(run_dir, tmp_path / "r.md").read_text()
    verdict = md[md.index("## Verdict") : md.index("\n## blobs (")]
    assert "**Ranks that do not show what a framework can do:** on blobs, stuck did not " in (
        verdict
    )
    assert "on blobs, good" not in verdict
    summary = _section(md, "blobs")
    assert "- **stuck**: **did not learn at this budget in 2 of 2 jobs" in summary
    assert "- **good**: trained" in summary
