"""Number formats and the per-framework sentence of the report."""

from __future__ import annotations

import math
from dataclasses import replace

from benchmark.records import JobRecord, Timing, TrainingInfo
from benchmark.report.summary import (
    compact,
    describe_adapter,
    device_words,
    ending_words,
    epochs_words,
    find_epochs,
    fmt_count,
    fmt_duration,
    fmt_interval,
    fmt_pct,
    fmt_px,
    fmt_signed_px,
    md_table,
    notes_summary,
    schedule_summary,
)


def test_formats() -> None:
    assert fmt_px(2.345) == "2.35"
    assert fmt_px(math.nan) == fmt_px(None) == "—"
    assert fmt_pct(0.5) == "50.0%"
    assert [fmt_duration(s) for s in (0.5, 45, 186, 7200)] == ["0.5 s", "45 s", "3.1 min", "2.00 h"]
    assert [fmt_count(n) for n in (812, 45_600, 1_234_567)] == ["812", "45.6 k", "1.23 M"]


def test_md_table_escapes_pipes_and_newlines() -> None:
    table = md_table(["a", "b"], [["x|y", "two\nlines"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | two lines |"]


def test_compact_flattens_and_shortens() -> None:
    assert compact({"train": {"epochs": 5, "lr": 0.1}, "flip": True}) == (
        "train.epochs=5, train.lr=0.1, flip=True"
    )
    assert compact({}) == "—"
    assert len(compact({"k": "x" * 500})) == 160
    assert compact({"k": "x" * 500}, limit=None) == "k=" + "x" * 500


def test_notes_lead_with_the_recommendation_line() -> None:
    line = (
        "sleap-nn recommended input_scale 1.0, sigma 7.5; the run config set input_scale 0.25,"
        " sigma 2.5"
    )
    notes = {
        "backbone": "unet",
        "recommended": {"input_scale": 1.0, "sigma": 7.5},
        "overridden": {"input_scale": {"recommended": 1.0, "used": 0.25}},
        "recommendation": line,
        "epochs_run": 3,
    }
    assert notes_summary(notes, 80) == line + "; backbone=unet, epochs_run=3"
    assert notes_summary({"recommendation": line}, 80) == line
    assert notes_summary({"backbone": "unet"}, 80) == compact({"backbone": "unet"}, 80)
    assert notes_summary({}, 80) == "—"


def test_schedule_summary_names_model_epochs_batch_and_learning_rate() -> None:
    config = {"net_type": "resnet_50", "epochs": 4, "batch_size": 8, "train_crop": "auto"}
    assert schedule_summary(config) == "net_type=resnet_50, epochs=4, batch_size=8 (+1 more)"
    nested = {"trainer": {"max_epochs": 7, "lr": 0.01}, "flip": True}
    assert schedule_summary(nested) == "trainer.max_epochs=7, trainer.lr=0.01 (+1 more)"
    assert schedule_summary({"sigma": 2.5}) == "sigma=2.5"  # none of the keys: the options
    assert schedule_summary(None) == "—"
    assert len(schedule_summary({"a": "x" * 500})) <= 70


def test_find_epochs_searches_nested_configs() -> None:
    assert find_epochs({"epochs": 40}) == 40
    assert find_epochs({"train_settings": {"max_epochs": 7}}) == 7
    assert find_epochs({"batch_size": 8}) is None
    assert find_epochs(None) is None


def _job(threads: int = 2, **fields) -> JobRecord:
    """A finished job record with ``threads`` and the given fields."""
    timing = Timing(1.0, 1.0, 0.1, 0.1, 10.0, 100.0, threads)
    return JobRecord("j", "d", 0, "a", "a", 0, status="done", timing=timing, **fields)


def test_device_words_prefers_the_gpu_the_worker_used() -> None:
    cpu = _job(environment={"cuda": False, "gpu": None})
    gpu = _job(environment={"cuda": True, "gpu": "NVIDIA H100"})
    forced_cpu = replace(gpu, adapter_config={"device": "cpu"})
    assert device_words([cpu]) == "2 CPU threads"
    assert device_words([gpu]) == "NVIDIA H100"
    assert device_words([forced_cpu]) == "2 CPU threads"


def test_describe_adapter_names_schedule_rank_and_missed_keypoints() -> None:
    record = _job(adapter_config={"epochs": 40})
    text = describe_adapter(
        "heatmap",
        {
            "train_s": 186.0,
            "mean_px_all": 2.4,
            "median_px": 2.1,
            "detection_rate": 0.9,
            "predict_fps": 40.0,
        },
        {"snout": 1.0, "tail_tip": 0.4},
        [record],
        n_failed=0,
        standing="best of 3 by mean px (all)",
    )
    assert text == (
        "trained 40 epochs in 3.1 min on 2 CPU threads; mean error over every keypoint "
        "2.40 px (best of 3 by mean px (all)); median error 2.10 px; 90.0% of keypoints "
        "detected; missed tail_tip in 60% of labelled frames; predicts 40.0 frames/s"
    )
    assert describe_adapter("x", {}, {}, [], n_failed=2) == "no results (2 jobs failed or skipped)"


def test_training_words_say_whether_the_budget_or_the_schedule_ended_it() -> None:
    stopped = _job(training=TrainingInfo(300.0, True, 22, 200))
    stopped_later = _job(training=TrainingInfo(300.0, True, 24, 200))
    finished = _job(training=TrainingInfo(300.0, False, 40, 40))
    assert ending_words([stopped, stopped_later]) == "stopped by budget"
    assert epochs_words([stopped, stopped_later]) == "22–24 / 200"
    assert ending_words([finished]) == "finished its schedule"
    assert ending_words([stopped, finished]) == (
        "stopped by budget in 1 of 2 jobs; finished its schedule in 1"
    )
    assert ending_words([_job()]) == "not recorded" and epochs_words([_job()]) == "—"
    text = describe_adapter("sleap", {"train_s": 301.0}, {}, [stopped, stopped_later], 0)
    assert (
        text == "trained 22–24 of 200 planned epochs in 5.0 min on 2 CPU threads, stopped by budget"
    )


def test_signed_differences_and_intervals() -> None:
    assert fmt_signed_px(0.123) == "+0.12" and fmt_signed_px(-1.3) == "-1.30"
    assert fmt_interval(-0.3, 0.55, signed=True) == "-0.30 to +0.55"
    assert fmt_interval(1.1, 1.74) == "1.10–1.74"
    assert fmt_interval(None, 2.0) == "—"
