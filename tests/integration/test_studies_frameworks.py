"""Label efficiency and a cross-dataset test with sleap-nn trained for real through the runner."""

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
from benchmark.metrics import miss_penalty_px, scored_errors
from benchmark.report import render_report
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.splits import load_splits
from tests.fixtures import make_blob_dataset

#: blobs keypoint -> blobs-b keypoint; tail_base has no partner and is left out.
MAPPING = {"snout": "snout", "left_ear": "left_ear", "right_ear": "right_ear"}


@pytest.fixture(scope="module")
def study_run(tmp_path_factory) -> Path:
    """One run on two projects of 16 generated 64x48 frames (``blobs`` and ``blobs-b``, other
    seeds, so other discs): sleap-nn, 3 epochs, 1 thread, training sizes 4 and all 12; the
    models trained on ``blobs`` also predict ``blobs-b``'s test frames on 3 of the 4
    keypoints."""
    root = tmp_path_factory.mktemp("studies")
    for name, seed in (("blobs", 0), ("blobs-b", 5)):
        write_dlc_project(make_blob_dataset(root / name, n_frames=16, seed=seed), root / name)
    config = {
        "name": "studies",
        "datasets": [
            {"name": "blobs", "path": str(root / "blobs")},
            {"name": "blobs-b", "path": str(root / "blobs-b")},
        ],
        "adapters": [{"name": "sleap", "config": {"epochs": 3}}],
        "threads": 1,
        "split": {"test_fraction": 0.25, "seed": 0},
        "budget": {"train_s": 900},
        "train_sizes": [4, 1.0],
        "transfer": [{"train": "blobs", "test": "blobs-b", "keypoints": MAPPING}],
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    run(RunConfig.load(root / "run.yaml"), root / "run", quiet=True)
    return root


def _job(run_dir: Path, job_id: str) -> dict:
    job = json.loads((run_dir / "jobs" / job_id / "job.json").read_text())
    assert job["status"] == "done", job.get("error")
    return job


@pytest.mark.integration
def test_sleap_trains_on_the_nested_subset_and_is_tested_on_the_same_frames(study_run):
    import sleap_io as sio

    run_dir = study_run / "run"
    ds = read_dataset(study_run / "blobs")
    (split,) = load_splits(run_dir / "splits/blobs.json", ds)
    small = split.subset(4)
    assert set(small.train) < set(split.train) and len(split.train) == 12
    full = _job(run_dir, "blobs__fold0__sleap__seed0")
    sub = _job(run_dir, "blobs__fold0__sleap__seed0__n4")
    assert (full["n_train"], sub["n_train"]) == (12, 4)
    # What sleap-nn was given to train on: exactly the subset's 4 frames and their labels.
    (slp,) = (run_dir / "jobs/blobs__fold0__sleap__seed0__n4").rglob("sleap_data/train.pkg.slp")
    labels = sio.load_slp(str(slp))
    got = np.stack([lf.instances[0].numpy() for lf in labels.labeled_frames])
    np.testing.assert_allclose(got, ds.subset(list(small.train)).points)
    for job_id in ("blobs__fold0__sleap__seed0", "blobs__fold0__sleap__seed0__n4"):
        pred = read_predictions(run_dir / "jobs" / job_id / "predictions.csv")
        assert list(pred.frame_ids) == list(split.test)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    rows = metrics[(metrics["metric"] == "train_frames") & (metrics["dataset"] == "blobs")]
    assert sorted(rows["value"]) == [4, 12]


@pytest.mark.integration
def test_transfer_scores_sleaps_predictions_on_the_mapped_keypoints(study_run):
    run_dir = study_run / "run"
    target = read_dataset(study_run / "blobs-b")
    (split,) = load_splits(run_dir / "splits/blobs-b.json", target)
    job = _job(run_dir, "blobs__fold0__sleap__seed0")
    scored = job["transfer"]["blobs-b"]
    assert scored["left_out"] == {"train": ["tail_base"], "test": ["tail_base"]}
    pred = read_predictions(run_dir / "jobs/blobs__fold0__sleap__seed0/transfer/blobs-b.csv")
    assert list(pred.frame_ids) == list(split.test)
    # The harness's score, recomputed from sleap-nn's predictions on the 3 mapped keypoints.
    gt = target.subset(list(split.test))
    truth = gt.points[:, [target.keypoints.index(b) for b in MAPPING.values()]]
    values = pred.values[:, [pred.keypoints.index(a) for a in MAPPING]]
    errors = scored_errors(truth, values, miss_penalty_px(gt.image_sizes()))
    labelled = np.isfinite(truth).all(axis=-1)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    row = metrics[
        (metrics["dataset"] == "blobs")
        & (metrics["test_dataset"] == "blobs-b")
        & (metrics["keypoint"] == "all")
        & (metrics["metric"] == "mean_px_all")
    ]
    assert len(row) == 1
    assert row["value"].iloc[0] == pytest.approx(errors[labelled].mean())
    moved = metrics[(metrics["dataset"] == "blobs") & (metrics["test_dataset"] == "blobs-b")]
    assert set(moved["keypoint"]) == {"all", *MAPPING.values()}


@pytest.mark.integration
def test_report_has_the_study_sections(study_run):
    text = render_report(study_run / "run", study_run / "report.md").read_text()
    assert "## Label efficiency" in text and "## Cross-dataset tests" in text
    assert "tail_base" in text  # the left-out keypoint is listed
