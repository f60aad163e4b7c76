"""DeepLabCut and sleap-nn trained for real through the runner, offline, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

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
from tests.fixtures import make_blob_dataset

ADAPTERS = [
    {"name": "deeplabcut", "config": {"epochs": 1, "batch_size": 4, "pretrained": False}},
    {"name": "sleap", "config": {"epochs": 2}},
]


@pytest.fixture(scope="module")
def framework_run(tmp_path_factory) -> Path:
    """One run: 16 generated 64x48 frames, DeepLabCut and SLEAP, 1-2 epochs each, 1 thread."""
    root = tmp_path_factory.mktemp("frameworks")
    write_dlc_project(make_blob_dataset(root / "frames", n_frames=16), root / "project")
    config = {
        "name": "frameworks",
        "datasets": [{"name": "blobs", "path": str(root / "project")}],
        "adapters": ADAPTERS,
        "threads": 1,
        "split": {"test_fraction": 0.25, "seed": 0},
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
def test_report_names_both_frameworks(framework_run):
    out = render_report(framework_run / "run", framework_run / "report.md")
    text = out.read_text()
    assert "deeplabcut" in text and "sleap" in text
    # Offline, DeepLabCut started from a random initialisation and the report says so.
    assert "pretrained=False" in text
