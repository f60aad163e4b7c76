"""DeepLabCut and sleap-nn trained for real through the runner, offline, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.io import read_dataset
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.report import render_report
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.splits import load_splits
from benchmark.video.io import read_chunks
from benchmark.video.track import find_model, load_track
from tests.fixtures import make_blob_dataset, write_video

ADAPTERS = [
    {"name": "deeplabcut", "config": {"epochs": 4, "batch_size": 4, "pretrained": False}},
    {"name": "sleap", "config": {"epochs": 4}},
]


@pytest.fixture(scope="module")
def framework_run(tmp_path_factory) -> Path:
    """One run: 16 generated 64x48 frames, DeepLabCut and SLEAP, 4 epochs each within a
    budget they do not reach, 1 thread; afterwards each tracks the project's video (the same
    16 frames as an mp4)."""
    root = tmp_path_factory.mktemp("frameworks")
    blobs = make_blob_dataset(root / "frames", n_frames=16)
    write_dlc_project(blobs, root / "project")
    write_video(blobs, root / "project" / "videos" / "blobs.mp4")
    config = {
        "name": "frameworks",
        "datasets": [{"name": "blobs", "path": str(root / "project")}],
        "adapters": ADAPTERS,
        "threads": 1,
        "split": {"test_fraction": 0.25, "seed": 0},
        "budget": {"train_s": 900},
        "track_videos": True,
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    run(RunConfig.load(root / "run.yaml"), root / "run", quiet=True)
    return root


@pytest.mark.integration
@pytest.mark.parametrize("adapter", ["deeplabcut", "sleap"])
def test_framework_predicts_every_test_frame_through_the_runner(framework_run, adapter):
    run_dir = framework_run / "run"
    job = json.loads((run_dir / f"jobs/blobs__fold0__{adapter}__seed0/job.json").read_text())
    assert job["status"] == "done", job.get("error")
    assert job["framework_version"] and job["timing"]["train_s"] > 0
    ds = read_dataset(framework_run / "project")
    (split,) = load_splits(run_dir / "splits/blobs.json", ds)
    pred = read_predictions(run_dir / f"jobs/blobs__fold0__{adapter}__seed0/predictions.csv")
    assert list(pred.frame_ids) == list(split.test)
    assert pred.values.shape == (len(split.test), 4, 3)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    rows = metrics[(metrics["adapter"] == adapter) & (metrics["keypoint"] == "all")]
    assert {"detection_rate", "mean_px", "train_s", "predict_fps"} <= set(rows["metric"])


@pytest.mark.integration
@pytest.mark.parametrize("adapter", ["deeplabcut", "sleap"])
def test_framework_has_a_learning_curve_ending_at_its_final_metrics(framework_run, adapter):
    """Snapshots at 25, 50 and 75% of the 4 epochs, predicted after training; the curve's
    last point is the final model, whose metrics are the job's."""
    run_dir = framework_run / "run"
    job = json.loads((run_dir / f"jobs/blobs__fold0__{adapter}__seed0/job.json").read_text())
    assert not job["training"]["stopped_by_budget"] and job["training"]["epochs_done"] == 4
    assert [p["epoch"] for p in job["curve"]] == [1, 2, 3]
    assert all(p["error"] is None for p in job["curve"]), job["curve"]
    assert job["timing"]["setup_s"] > 0  # framework import and conversion, not training
    curves = pd.read_csv(run_dir / "curves.csv")
    mine = curves[(curves["adapter"] == adapter) & (curves["metric"] == "mean_px_all")]
    assert len(mine) == 4 and mine["final"].tolist() == [False, False, False, True]
    times = mine["train_s"].tolist()
    assert times == sorted(times) and times[-1] == pytest.approx(job["timing"]["train_s"])
    metrics = pd.read_csv(run_dir / "metrics.csv")
    final = metrics[
        (metrics["adapter"] == adapter)
        & (metrics["keypoint"] == "all")
        & (metrics["metric"] == "mean_px_all")
    ]
    assert mine["value"].iloc[-1] == pytest.approx(final["value"].iloc[0])


@pytest.mark.integration
def test_report_names_both_frameworks(framework_run):
    out = render_report(framework_run / "run", framework_run / "report.md")
    text = out.read_text()
    assert "deeplabcut" in text and "sleap" in text
    # Offline, DeepLabCut started from a random initialisation and the report says so.
    assert "pretrained=False" in text


@pytest.mark.integration
@pytest.mark.parametrize("adapter", ["deeplabcut", "sleap"])
def test_framework_tracks_the_video_with_its_own_video_inference(framework_run, adapter):
    """DeepLabCut (its VideoIterator and inference runner) and sleap-nn (predict_streaming)
    read the video themselves; they give the same points as the model run on the frames
    kpbench decodes."""
    from benchmark.registry import load_class

    run_dir = framework_run / "run"
    video = framework_run / "project" / "videos" / "blobs.mp4"
    record, values = load_track(run_dir / f"tracks/{adapter}__blobs")
    assert record.timing.inference == "framework"
    assert record.timing.frame_counts == {"decoded": 16, "predicted": 16}
    assert values.shape == (16, 4, 3)
    assert (run_dir / f"tracks/{adapter}__blobs/labelled.mp4").stat().st_size > 0
    if adapter == "deeplabcut":
        project_cfg = yaml.safe_load(
            (find_model(run_dir, adapter).model_dir / "config.yaml").read_text()
        )
        assert record.min_score == project_cfg["pcutoff"]

    model = find_model(run_dir, adapter)
    predictor = load_class(model.adapter_name)().load(model.model_dir, framework_run)
    frames = [frame for chunk in read_chunks(video) for frame in chunk]
    expected = predictor.predict_images(frames)
    np.testing.assert_array_equal(np.isnan(values[..., 0]), np.isnan(expected[..., 0]))
    np.testing.assert_allclose(values, expected, atol=1e-3, equal_nan=True)
