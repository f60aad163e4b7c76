"""Studies through the runner: label efficiency (nested training subsets), cross-dataset
tests (keypoint mapping) and nested cross-validation of a sweep, each with its bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.dataset import Skeleton
from benchmark.errors import InputError
from benchmark.io import read_dataset
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.records import JobRecord, read_record
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.splits import load_splits
from tests.fixtures import make_blob_dataset

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"


def _load(tmp_path: Path, datasets: list, adapters: list, **extra) -> RunConfig:
    data = {"name": "t", "datasets": datasets, "adapters": adapters, "threads": 1, **extra}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return RunConfig.load(path)


def _job(run_dir: Path, job_id: str) -> JobRecord:
    return read_record(run_dir / "jobs" / job_id / "job.json", JobRecord)


@pytest.fixture
def big_project(tmp_path: Path) -> Path:
    """A DeepLabCut project of 30 generated 64x48 blob frames (4 keypoints)."""
    ds = make_blob_dataset(tmp_path / "frames", n_frames=30)
    write_dlc_project(ds, tmp_path / "big")
    return tmp_path / "big"


@pytest.fixture
def other_project(tmp_path: Path) -> Path:
    """Another recording: 10 blob frames (seed 1, 80x60) whose keypoints are named
    ``nose, ear_l, ear_r, tailroot`` and that has a fifth keypoint ``belly`` (unlabelled)."""
    ds = make_blob_dataset(tmp_path / "other_frames", n_frames=10, size=(80, 60), seed=1)
    names = ("nose", "ear_l", "ear_r", "tailroot", "belly")
    points = np.concatenate([ds.points, np.full((ds.n_frames, 1, 2), np.nan)], axis=1)
    ds = replace(ds, skeleton=Skeleton.from_names(names, [("nose", "ear_l")]), points=points)
    write_dlc_project(ds, tmp_path / "other")
    return tmp_path / "other"


# ----------------------------------------------------------------------------- sizes
def test_label_efficiency_trains_nested_subsets_on_the_same_test_frames(tmp_path, big_project):
    datasets = [{"name": "blobs", "path": str(big_project), "split": {"folds": 2, "seed": 3}}]
    adapters = [{"name": MEAN, "label": "mean"}]
    config = _load(tmp_path, datasets, adapters, train_sizes=[4, 0.5, 1.0])
    run_dir = tmp_path / "out"
    run(config, run_dir, quiet=True)

    ds = read_dataset(big_project)
    splits = load_splits(run_dir / "splits/blobs.json", ds)
    for split in splits:  # 15 training frames per fold: sizes 4 and 8 (half, rounded)
        small, large = split.train_subsets
        assert len(small) == 4 and len(large) == 8
        assert set(small) <= set(large) <= set(split.train)
        test_ids = None
        for size in (4, 8, None):
            job_id = f"blobs__fold{split.fold}__mean__seed0" + (f"__n{size}" if size else "")
            record = _job(run_dir, job_id)
            assert record.status == "done" and record.train_size == size
            assert record.n_train == (size or 15)
            # As many training samples as the whole set: 3 epochs x 15 frames, rounded up.
            assert record.adapter_config.get("epochs", 3) == {4: 12, 8: 6, None: 3}[size]
            pred = read_predictions(run_dir / "jobs" / job_id / "predictions.csv")
            assert test_ids is None or list(pred.frame_ids) == test_ids
            test_ids = list(pred.frame_ids)
        assert test_ids == list(split.test)
        # The mean pose of a subset is the mean of exactly its frames.
        sub = ds.subset(small)
        rel = sub.points / np.array(sub.image_sizes(), float)[:, None, :]
        model = run_dir / "jobs" / f"blobs__fold{split.fold}__mean__seed0__n4" / "work/model"
        stored = np.array(json.loads((model / "mean.json").read_text()))
        np.testing.assert_allclose(stored, np.nanmean(rel, axis=0), rtol=1e-9)

    metrics = pd.read_csv(run_dir / "metrics.csv")
    sizes = metrics[metrics.metric == "mean_px_all"].train_size
    assert sorted(sizes.fillna(0).unique()) == [0, 4, 8]
    frames = metrics[metrics.metric == "train_frames"].set_index("train_size", drop=False)
    assert set(frames["value"]) == {4.0, 8.0, 15.0}

    # Seeded: a second run of the same config draws the same subsets, byte for byte.
    again = tmp_path / "again"
    run(config, again, quiet=True)
    assert (again / "splits/blobs.json").read_bytes() == (
        run_dir / "splits/blobs.json"
    ).read_bytes()


def test_a_training_size_above_a_folds_training_set_is_refused_before_any_job(
    tmp_path, big_project
):
    datasets = [{"name": "blobs", "path": str(big_project)}]  # 24 training frames
    config = _load(tmp_path, datasets, [MEAN], train_sizes=[10, 25])
    with pytest.raises(InputError, match="training size 25 is larger than fold 0's 24"):
        run(config, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("sizes", "problem"),
    [
        ([0], "at least 1"),
        ([1.5], r"fractions in \(0, 1\]"),
        ([], "non-empty list"),
        (["x"], "counts"),
    ],
)
def test_bad_training_sizes_are_refused(tmp_path, big_project, sizes, problem):
    with pytest.raises(InputError, match=problem):
        _load(tmp_path, [{"name": "blobs", "path": str(big_project)}], [MEAN], train_sizes=sizes)


# ----------------------------------------------------------------------------- transfer
def test_transfer_scores_mapped_keypoints_on_the_other_datasets_test_frames(
    tmp_path, big_project, other_project
):
    mapping = {"snout": "nose", "left_ear": "ear_l", "tail_base": "tailroot"}
    config = _load(
        tmp_path,
        [
            {"name": "blobs", "path": str(big_project)},
            {"name": "other", "path": str(other_project)},
        ],
        [{"name": MEAN, "label": "mean"}],
        transfer=[{"train": "blobs", "test": "other", "keypoints": mapping}],
    )
    run_dir = tmp_path / "out"
    run(config, run_dir, quiet=True)

    record = _job(run_dir, "blobs__fold0__mean__seed0")
    scores = record.transfer["other"]
    assert scores["keypoints"] == mapping
    assert scores["left_out"] == {"train": ["right_ear"], "test": ["ear_r", "belly"]}
    # The other dataset's test frames, the frames its own models are tested on.
    other = read_dataset(other_project)
    (other_split,) = load_splits(run_dir / "splits/other.json", other)
    pred = read_predictions(run_dir / "jobs/blobs__fold0__mean__seed0/transfer/other.csv")
    assert list(pred.frame_ids) == list(other_split.test)
    assert list(pred.keypoints) == ["snout", "left_ear", "right_ear", "tail_base"]

    # Recompute the snout -> nose error from the stored predictions and the other labels.
    truth = other.subset(other_split.test).points[:, other.keypoints.index("nose")]
    err = np.linalg.norm(pred.values[:, 0, :2] - truth, axis=-1)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    rows = metrics[(metrics.test_dataset == "other") & (metrics.dataset == "blobs")]
    nose = rows[(rows.keypoint == "nose") & (rows.metric == "mean_px")]["value"].item()
    assert nose == pytest.approx(np.nanmean(err))
    assert set(rows.keypoint) == {"all", "nose", "ear_l", "tailroot"}
    within = metrics[(metrics.test_dataset == "blobs") & (metrics.dataset == "blobs")]
    assert "snout" in set(within.keypoint)  # the job's own test frames, as before
    errors = pd.read_csv(run_dir / "frame_errors.csv")
    moved = errors[(errors.test_dataset == "other") & (errors.dataset == "blobs")]
    assert set(moved.keypoint) <= {"nose", "ear_l", "tailroot"} and len(moved) > 0
    # The other dataset's own jobs are not tested on blobs (not asked for).
    assert _job(run_dir, "other__fold0__mean__seed0").transfer == {}


def test_a_mapping_naming_a_keypoint_that_does_not_exist_is_refused(
    tmp_path, big_project, other_project
):
    config = _load(
        tmp_path,
        [
            {"name": "blobs", "path": str(big_project)},
            {"name": "other", "path": str(other_project)},
        ],
        [MEAN],
        transfer=[{"train": "blobs", "test": "other", "keypoints": {"snout": "snout"}}],
    )
    with pytest.raises(InputError, match="names 'snout', which is not a keypoint of other"):
        run(config, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


def test_a_transfer_to_a_dataset_outside_the_run_is_refused(tmp_path, big_project):
    with pytest.raises(InputError, match="names 'mouse', which is not a dataset of the run"):
        _load(
            tmp_path,
            [{"name": "blobs", "path": str(big_project)}],
            [MEAN],
            transfer=[{"train": "blobs", "test": "mouse", "keypoints": {"snout": "snout"}}],
        )


# ----------------------------------------------------------------------------- sweeps
def test_nested_cross_validation_chooses_on_inner_folds_only(tmp_path, big_project):
    datasets = [
        {"name": "blobs", "path": str(big_project), "split": {"folds": 2, "inner_folds": 2}}
    ]
    sweep = {"epochs": [2], "shift": [0.3, 0.0]}  # (safe_dump sorts the keys)
    adapters = [{"name": MEAN, "label": "tuned", "sweep": sweep, "select_by": "validation"}]
    run_dir = tmp_path / "out"
    run(_load(tmp_path, datasets, adapters), run_dir, quiet=True)

    ds = read_dataset(big_project)
    for split in load_splits(run_dir / "splits/blobs.json", ds):
        # The recorded inner folds partition the outer training frames; no test frame.
        assert len(split.inner_tests) == 2
        inner = [f for part in split.inner_tests for f in part]
        assert sorted(inner) == sorted(split.train)
        assert not set(inner) & set(split.test)
        for j in range(2):
            for point in ("tuned@epochs=2,shift=0.3", "tuned@epochs=2,shift=0.0"):
                job_id = f"blobs__fold{split.fold}__{point}__seed0__inner{j}"
                pred = read_predictions(run_dir / "jobs" / job_id / "predictions.csv")
                assert list(pred.frame_ids) == list(split.inner_tests[j])
                assert _job(run_dir, job_id).n_train == len(split.train) - len(pred.frame_ids)
        record = _job(run_dir, f"blobs__fold{split.fold}__tuned__seed0")
        assert record.status == "done"
        chosen = record.selection["chosen"]
        means = {k: v["mean"] for k, v in record.selection["points"].items()}
        assert chosen == min(means, key=means.get) == "tuned@epochs=2,shift=0.0"
        assert {"epochs": 2, "shift": 0.0}.items() <= record.adapter_config.items()
        pred = read_predictions(run_dir / "jobs" / record.job_id / "predictions.csv")
        assert list(pred.frame_ids) == list(split.test)

    # The main table holds the tuned adapter's test rows and the inner rows apart.
    metrics = pd.read_csv(run_dir / "metrics.csv")
    outer = metrics[metrics.inner_fold.isna()]
    assert set(outer.adapter) == {"tuned"}
    assert set(metrics[metrics.inner_fold.notna()].adapter) == {
        "tuned@epochs=2,shift=0.3",
        "tuned@epochs=2,shift=0.0",
    }


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"sweep": {"shfit": [0.1]}}, "shfit"),
        ({"sweep": {"shift": []}}, "non-empty list"),
        ({"select_by": "validation"}, "select_by needs a sweep"),
        ({"sweep": {"shift": [0.1]}, "select_by": "test"}, "select_by"),
    ],
)
def test_bad_sweeps_are_refused(tmp_path, big_project, entry, problem):
    with pytest.raises(InputError, match=problem):
        _load(tmp_path, [{"name": "blobs", "path": str(big_project)}], [{"name": MEAN, **entry}])


def test_select_by_without_enough_frames_for_inner_folds_is_refused(tmp_path, project):
    datasets = [{"name": "blobs", "path": str(project), "split": {"inner_folds": 6}}]
    adapters = [{"name": MEAN, "sweep": {"shift": [0.0, 0.1]}, "select_by": "validation"}]
    with pytest.raises(InputError, match="too few for 6 inner folds"):
        run(_load(tmp_path, datasets, adapters), tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()
