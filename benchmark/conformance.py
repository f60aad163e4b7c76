"""Conformance checks every adapter must pass, runnable against any registered adapter.

Use from a test (see ``docs/adding-an-adapter.md``)::

    from benchmark.conformance import check_adapter
    def test_my_adapter(tmp_path):
        check_adapter("my-adapter", {"epochs": 2}, tmp_path)

The checks train on a tiny generated dataset (coloured discs at the keypoints, some labels
missing, one keypoint never labelled), predict held-out frames, and verify the output
contract: shape, pixel coordinates of the original image, NaN handling, repeatability,
batch independence, and determinism for adapters that promise it.

:func:`check_training_clock` checks the training protocol (:mod:`adapters.base`): the
adapter marks the start of training, saves the snapshots the clock asks for in a form its
``load`` reads, and stops at the epoch boundary where the budget is spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from adapters.base import ConfigError, check_predictions
from benchmark.budget import TrainingClock
from benchmark.dataset import Dataset
from benchmark.registry import load_class
from benchmark.synthetic.blobs import make_blob_dataset


def conformance_dataset(folder: Path, n_frames: int = 16) -> tuple[Dataset, Dataset]:
    """Train and test parts of a tiny dataset: 96x72 frames, 4 keypoints, ``tail_base`` unlabelled.

    About 10% of the other labels are missing too, so adapters must cope with NaN labels.
    """
    ds = make_blob_dataset(folder, n_frames=n_frames, size=(96, 72), seed=3)
    points = np.array(ds.points)
    points[:, 3] = np.nan  # a keypoint that is never labelled must not break training
    ds = ds.with_points(points)
    n_test = max(2, n_frames // 4)
    return ds.subset(ds.frame_ids[:-n_test]), ds.subset(ds.frame_ids[-n_test:])


def _train_predict(
    name: str, config: Mapping[str, Any], workdir: Path, train: Dataset, test: Dataset, seed: int
) -> tuple[Path, np.ndarray]:
    cls = load_class(name)
    adapter = cls()
    model_dir = Path(adapter.train(train, None, workdir, cls.resolve_config(config), seed))
    assert model_dir.is_dir(), f"train() returned {model_dir}, which is not a folder"
    pred = adapter.load(model_dir, workdir)(test)
    return model_dir, check_predictions(pred, test, name)


def check_adapter(
    name: str, config: Mapping[str, Any], tmp_path: Path, *, n_frames: int = 16
) -> np.ndarray:
    """Run every conformance check on adapter ``name``; raises AssertionError on a failure.

    Returns:
        The predictions on the test frames, for further adapter-specific checks.
    """
    cls = load_class(name)
    ok, why = cls.available()
    assert ok, f"adapter {name!r} cannot run here: {why}"
    try:
        cls.resolve_config({"no_such_option_xyz": 1})
    except ConfigError:
        pass
    else:
        raise AssertionError("resolve_config accepted an unknown option")

    train, test = conformance_dataset(tmp_path / "data", n_frames)
    model_dir, pred = _train_predict(name, config, tmp_path / "run1", train, test, seed=0)

    w, h = 96, 72
    xy = pred[..., :2]
    found = ~np.isnan(xy).any(axis=-1)
    assert np.isnan(xy[~found]).all(), "a missed point must have both coordinates NaN"
    inside = (xy[found] > -0.5 * w).all() and (xy[found][:, 0] < 1.5 * w).all()
    assert inside and (xy[found][:, 1] < 1.5 * h).all(), (
        "predictions are not in original image pixels"
    )

    again = check_predictions(
        load_class(name)().load(model_dir, tmp_path / "run1")(test), test, name
    )
    np.testing.assert_allclose(again, pred, atol=1e-4, err_msg="predicting twice differs")
    one = check_predictions(
        load_class(name)().load(model_dir, tmp_path / "run1")(test.subset(test.frame_ids[:1])),
        test.subset(test.frame_ids[:1]),
        name,
    )
    np.testing.assert_allclose(
        one, pred[:1], atol=1e-3, err_msg="a frame's prediction depends on its batch"
    )

    info = cls().model_info(model_dir)
    assert {"n_params", "model_mb"} <= set(info), "model_info lacks n_params/model_mb"

    if cls.deterministic:
        _, pred2 = _train_predict(name, config, tmp_path / "run2", train, test, seed=0)
        np.testing.assert_allclose(
            pred2, pred, atol=1e-5, err_msg="same seed, different predictions"
        )
    return pred


def check_training_clock(
    name: str, config: Mapping[str, Any], tmp_path: Path, *, n_frames: int = 16
) -> list[np.ndarray]:
    """Check the training clock protocol of adapter ``name``; raises AssertionError.

    ``config`` must plan at least 4 epochs. Trains twice: once without a budget (at least
    3 snapshots, each predicting the test frames), once with a budget spent after the
    first epoch (training stops there, gracefully, and the model loads).

    Returns:
        The predictions of each snapshot, then of the final model.
    """
    cls = load_class(name)
    train, test = conformance_dataset(tmp_path / "data", n_frames)
    workdir = tmp_path / "curve"
    clock = TrainingClock(snapshot_root=workdir / "snapshots")
    adapter = cls(clock=clock)
    model_dir = Path(adapter.train(train, None, workdir, cls.resolve_config(config), 0))
    assert clock.started, "train() never called training_starts()"
    assert clock.setup_s >= 0 and clock.epochs_done >= 4, (
        f"train() reported {clock.epochs_done} epochs through end_epoch; config must plan >= 4"
    )
    assert not clock.stopped_by_budget
    assert len(clock.snapshots) >= 3, f"only {len(clock.snapshots)} snapshots were asked for"
    preds = []
    for snap in clock.snapshots:
        assert any(snap.path.iterdir()), f"snapshot folder {snap.path} was left empty"
        pred = check_predictions(
            adapter.load(model_dir, workdir, snapshot=snap.path)(test), test, name
        )
        preds.append(pred)
    preds.append(check_predictions(adapter.load(model_dir, workdir)(test), test, name))

    workdir = tmp_path / "budget"
    clock = TrainingClock(budget_s=1e-9, snapshot_root=workdir / "snapshots")
    adapter = cls(clock=clock)
    model_dir = Path(adapter.train(train, None, workdir, cls.resolve_config(config), 0))
    # Stopped by the clock, or (an adapter that fits its schedule to the budget, such as
    # our networks) re-planned to end at the first epoch: either way, no epoch after it.
    fitted = clock.epochs_planned == clock.epochs_done
    assert clock.stopped_by_budget or fitted, "a spent budget did not stop training"
    assert clock.epochs_done == 1, f"training went on to epoch {clock.epochs_done} past the budget"
    check_predictions(adapter.load(model_dir, workdir)(test), test, name)
    return preds
