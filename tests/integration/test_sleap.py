"""The SLEAP adapter against real sleap-nn, offline, one torch thread, on tiny generated frames."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.base import check_predictions, read_notes
from adapters.sleap.adapter import DATA_DIR, MODEL_DIR, SleapAdapter
from benchmark.budget import TrainingClock
from benchmark.conformance import check_adapter, check_training_clock
from benchmark.dataset import Dataset
from benchmark.metrics import apply_cutoff, summarize
from benchmark.synthetic.blobs import make_blob_dataset

pytestmark = pytest.mark.integration

# Full-resolution 64x48 frames, no augmentation: the discs are learnt in a few epochs.
CONFIG = {
    "epochs": 15,
    "batch_size": 4,
    "filters": 8,
    "max_stride": 8,
    "input_scale": 1.0,
    "augmentation": False,
    "sigma": 2.0,
}


@pytest.fixture(scope="module", autouse=True)
def offline_one_thread() -> Iterator[None]:
    """No model hub, and one torch thread (the test machine's cores are shared)."""
    pytest.importorskip("sleap_nn")
    import torch

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("WANDB_MODE", "disabled")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One model trained on 24 of 36 generated 64x48 frames (4 val, 8 test), with predictions.

    About 10% of the labels are missing, so ground truth has NaN points. The training clock
    asks for learning-curve snapshots (no budget).
    """
    root = tmp_path_factory.mktemp("sleap")
    ds = make_blob_dataset(root / "data", n_frames=36, seed=5)
    train, val, test = (ds.subset(ds.frame_ids[a:b]) for a, b in ((0, 24), (24, 28), (28, 36)))
    progress: list[dict] = []
    clock = TrainingClock(snapshot_root=root / "work" / "snapshots")
    adapter = SleapAdapter(progress=progress.append, clock=clock)
    model_dir = adapter.train(train, val, root / "work", SleapAdapter.resolve_config(CONFIG), 0)
    predictor = adapter.load(model_dir, root / "work")
    pred = check_predictions(predictor(test), test, "sleap")
    return {
        "adapter": adapter,
        "clock": clock,
        "model_dir": model_dir,
        "predictor": predictor,
        "train": train,
        "val": val,
        "test": test,
        "pred": pred,
        "progress": progress,
    }


def test_trains_on_exactly_the_split(trained: dict[str, Any]) -> None:
    import sleap_io as sio
    from omegaconf import OmegaConf

    model_dir: Path = trained["model_dir"]
    assert (model_dir / "best.ckpt").is_file()
    assert (model_dir / "training_config.yaml").is_file()
    cfg = OmegaConf.load(model_dir / "training_config.yaml").data_config
    data = model_dir.parent / DATA_DIR
    assert list(cfg.train_labels_path) == [str(data / "train.pkg.slp")]
    assert list(cfg.val_labels_path) == [str(data / "val.pkg.slp")]
    for part in ("train", "val"):
        labels = sio.load_slp(str(data / f"{part}.pkg.slp"))
        expected: Dataset = trained[part]
        got = np.stack([lf.instances[0].numpy() for lf in labels.labeled_frames])
        np.testing.assert_allclose(got, expected.points)
    notes = read_notes(model_dir)
    assert notes["validation"] == "val frames"
    assert notes["epochs_run"] == CONFIG["epochs"]


def test_given_options_override_sleap_nns_recommendation(trained: dict[str, Any]) -> None:
    """sleap-nn trained with the options CONFIG gives, its recommendation filling the rest
    (rotation 15 is its choice for an unknown view), and the notes say which it overrode."""
    from omegaconf import OmegaConf

    model_dir: Path = trained["model_dir"]
    notes = read_notes(model_dir)
    assert notes["recommended"] == {
        "input_scale": 1.0,
        "sigma": 2.5,
        "rotation": 15.0,
        "max_stride": 16,
        "filters": 32,
        "filters_rate": 1.5,
    }
    assert notes["overridden"] == {
        "sigma": {"recommended": 2.5, "used": 2.0},
        "max_stride": {"recommended": 16, "used": 8},
        "filters": {"recommended": 32, "used": 8},
    }
    written = OmegaConf.load(model_dir / "training_config.yaml")
    unet = written.model_config.backbone_config.unet
    assert (unet.filters, unet.max_stride) == (8, 8)
    assert written.model_config.head_configs.single_instance.confmaps.sigma == 2.0
    assert notes["adapter_config"] == {**SleapAdapter.resolve_config(CONFIG), "rotation": 15.0}


def test_every_epoch_goes_through_the_training_clock(trained: dict[str, Any]) -> None:
    """One ``end_epoch`` per epoch, with the epoch's own losses as sleap-nn logged them.

    sleap-nn's ``training_log.csv`` is written at the end of validation, which Lightning runs
    before the epoch's training loss is logged: row ``e`` holds epoch ``e``'s ``val/loss``
    and epoch ``e - 1``'s ``train/loss`` (none in row 0).
    """
    progress, clock = trained["progress"], trained["clock"]
    epochs = CONFIG["epochs"]
    assert [p["epoch"] for p in progress] == list(range(1, epochs + 1))
    assert all(p["epochs"] == epochs for p in progress)
    assert clock.started and clock.setup_s > 0 and clock.epochs_done == epochs
    assert not clock.stopped_by_budget
    with open(trained["model_dir"] / "training_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    for p, row, after in zip(progress, rows, [*rows[1:], None], strict=True):
        assert p["val_loss"] == pytest.approx(float(row["val/loss"]), rel=1e-6)
        if after is not None:
            assert p["loss"] == pytest.approx(float(after["train/loss"]), rel=1e-6)
    assert progress[-1]["loss"] < progress[0]["loss"]


def test_snapshots_are_that_epochs_weights(trained: dict[str, Any]) -> None:
    """Each snapshot is a sleap-nn run folder with the weights of the epoch it was asked at."""
    import torch

    clock, adapter, test = trained["clock"], trained["adapter"], trained["test"]
    assert len(clock.snapshots) >= 3
    final = summarize(test.points, trained["pred"], test.keypoints, n_boot=0)["mean_px"]
    for snap in clock.snapshots:
        assert sorted(p.name for p in snap.path.iterdir()) == ["best.ckpt", "training_config.yaml"]
        ckpt = torch.load(snap.path / "best.ckpt", map_location="cpu", weights_only=False)
        assert ckpt["epoch"] == snap.epoch - 1  # Lightning counts epochs from 0
    first = adapter.load(trained["model_dir"], Path("unused"), snapshot=clock.snapshots[0].path)
    pred = check_predictions(first(test), test, "sleap")
    assert summarize(test.points, pred, test.keypoints, n_boot=0)["mean_px"] > final


def test_predictions_are_original_pixels(trained: dict[str, Any]) -> None:
    test: Dataset = trained["test"]
    pred = trained["pred"]
    assert np.isfinite(pred).all()  # no cutoff: every node gets a location and a score
    m = summarize(test.points, pred, test.keypoints, n_boot=0)
    assert m["detection_rate"] == 1.0
    assert m["mean_px"] < 3.0, m
    assert ((pred[..., 2] > 0) & (pred[..., 2] <= 1.5)).all()
    assert trained["predictor"].score_cutoff == SleapAdapter.default_config["peak_threshold"]

    from benchmark.images import read_image

    images = [read_image(p) for p in test.image_paths]
    np.testing.assert_allclose(trained["predictor"].predict_images(images), pred, atol=1e-5)
    info = trained["adapter"].model_info(trained["model_dir"])
    assert info["n_params"] > 1000 and info["model_mb"] > 0


# ----- cross-check against sleap-nn's own evaluation -----
def _labels(ds: Dataset, pred: np.ndarray | None = None) -> Any:
    """Ground truth (user instances) or predictions (predicted instances) as sleap-io Labels.

    Both share one image-list video per dataset, so sleap-nn pairs their frames. Frames whose
    predictions are all NaN get no instance, as sleap-nn's own inference writes them.
    """
    import sleap_io as sio

    from benchmark.io.sleap import to_labels

    labels = to_labels(ds)
    if pred is None:
        return labels
    skeleton = labels.skeletons[0]
    for lf, p in zip(labels.labeled_frames, pred, strict=True):
        found = np.isfinite(p[:, 0])
        score = float(p[found, 2].mean()) if found.any() else 0.0
        instance = sio.PredictedInstance.from_numpy(
            p[:, :2], skeleton=skeleton, point_scores=p[:, 2], score=score
        )
        lf.instances = [instance] if found.any() else []
    return labels


def sleap_nn_metrics(ds: Dataset, pred: np.ndarray, folder: Path) -> dict[str, Any] | None:
    """sleap-nn's ``run_evaluation`` on ground truth and predictions saved as ``.slp`` files.

    Returns:
        sleap-nn's metrics, or None when sleap-nn has nothing to evaluate (it returns None
        when the predictions hold no instance, e.g. an undertrained model found no peak).
    """
    from sleap_nn.evaluation import run_evaluation

    folder.mkdir(parents=True, exist_ok=True)
    gt_path, pr_path = folder / "gt.slp", folder / "pr.slp"
    _labels(ds).save(str(gt_path), verbose=False)
    _labels(ds, pred).save(str(pr_path), verbose=False)
    return run_evaluation(str(gt_path), str(pr_path))


def assert_agrees(ds: Dataset, pred: np.ndarray, sleap: dict[str, Any]) -> dict[str, float]:
    """The harness's metrics equal sleap-nn's, after the documented definitional differences.

    sleap-nn's PCK has every node of every matched (non-empty) prediction in its denominator,
    unlabelled nodes included, and counts ``d < T``; the harness counts labelled keypoints
    (misses included) and ``d <= T``. Recomputed on sleap-nn's denominator, they must agree.
    """
    h = summarize(ds.points, pred, ds.keypoints, thresholds=(5, 10), n_boot=0)
    dist = sleap["distance_metrics"]
    pck = sleap["pck_metrics"]
    matched = np.isfinite(pred[..., 0]).any(axis=1)  # frames with a predicted instance
    n_nodes = int(matched.sum()) * ds.n_keypoints
    labeled_matched = int((ds.labeled & matched[:, None]).sum())
    assert (ds.labeled & ~matched[:, None]).sum() == h["n_labeled"] - labeled_matched
    out = {
        "mean_px": abs(h["mean_px"] - dist["avg"]),
        "median_px": abs(h["median_px"] - dist["p50"]),
        "p90_px": abs(h["p90_px"] - dist["p90"]),
    }
    for t in ("5", "10"):
        hits = h["pck"][t] * h["n_labeled"]  # labelled keypoints within t px (all matched)
        out[f"pck@{t}"] = abs(hits / n_nodes - pck[f"PCK@{t}"])
    print(  # the numbers quoted in the adapter's docstring (pytest -s)
        f"harness mean/median/p90 {h['mean_px']:.4f}/{h['median_px']:.4f}/{h['p90_px']:.4f} "
        f"pck@5/@10 {h['pck']['5']:.4f}/{h['pck']['10']:.4f} | sleap-nn avg/p50/p90 "
        f"{dist['avg']:.4f}/{dist['p50']:.4f}/{dist['p90']:.4f} PCK@5/@10 "
        f"{pck['PCK@5']:.4f}/{pck['PCK@10']:.4f} | |diff| {out}"
    )
    for key, diff in out.items():
        assert diff <= (0.05 if key.endswith("_px") else 0.01), (key, diff, h, dist, pck)
    return out


def test_metrics_agree_with_sleap_nn_evaluator(trained: dict[str, Any], tmp_path: Path) -> None:
    """Same ground truth, same predictions: harness metrics == sleap-nn's Evaluator's."""
    test: Dataset = trained["test"]
    pred = trained["pred"].copy()
    sleap = sleap_nn_metrics(test, pred, tmp_path / "as_predicted")
    assert sleap is not None
    assert_agrees(test, pred, sleap)

    # Misses: two keypoints not found, and one frame with no prediction at all (sleap-nn
    # then drops the frame; the harness counts its labelled keypoints as misses).
    pred[0, 1, :] = np.nan
    pred[2, 3, :] = np.nan
    pred[4, :, :] = np.nan
    sleap = sleap_nn_metrics(test, pred, tmp_path / "with_misses")
    assert sleap is not None
    assert_agrees(test, pred, sleap)

    # The strict threshold: an error of exactly 5 px passes the harness, fails sleap-nn.
    # (Whole-pixel labels, so that the 5 px shift is exact in float32 .slp storage.)
    whole = test.with_points(np.round(test.points))
    shifted = np.array(whole.points)
    shifted[..., 0] += 5.0
    shifted = np.concatenate([shifted, np.ones((*shifted.shape[:2], 1))], axis=-1)
    h = summarize(whole.points, shifted, whole.keypoints, thresholds=(5,), n_boot=0)
    sleap = sleap_nn_metrics(whole, shifted, tmp_path / "exact")
    assert sleap is not None
    assert h["pck"]["5"] == 1.0
    assert sleap["pck_metrics"]["PCK@5"] == 0.0


def test_locations_below_the_peak_threshold_are_returned(tmp_path: Path) -> None:
    """One epoch and a peak threshold no map reaches: every node still has a location, its
    score below ``score_cutoff``; the harness's cutoff view then has every keypoint missed,
    as sleap-nn's own inference with that threshold has (it finds no instance)."""
    ds = make_blob_dataset(tmp_path / "data", n_frames=10, seed=6)
    train, test = ds.subset(ds.frame_ids[:8]), ds.subset(ds.frame_ids[8:])
    adapter = SleapAdapter()
    config = SleapAdapter.resolve_config({**CONFIG, "epochs": 1, "peak_threshold": 0.999})
    model_dir = adapter.train(train, None, tmp_path / "work", config, 0)
    predictor = adapter.load(model_dir, tmp_path / "work")
    assert predictor.score_cutoff == 0.999
    pred = check_predictions(predictor(test), test, "sleap")
    assert np.isfinite(pred[..., :2]).all()
    assert (pred[..., 2] < predictor.score_cutoff).all()
    assert summarize(test.points, pred, test.keypoints, n_boot=0)["detection_rate"] == 1.0

    cut = apply_cutoff(pred, predictor.score_cutoff)
    assert summarize(test.points, cut, test.keypoints, n_boot=0)["detection_rate"] == 0.0
    assert sleap_nn_metrics(test, cut, tmp_path / "eval") is None  # nothing to evaluate
    notes = read_notes(model_dir)
    assert notes["validation"].endswith("(no val frames given)")

    # The harness's cutoff at any threshold equals sleap-nn's own peak threshold.
    threshold = float(np.median(pred[..., 2]))
    np.testing.assert_array_equal(
        np.isnan(apply_cutoff(pred, threshold)[..., 0]),
        np.isnan(sleap_nn_predict(model_dir, test, threshold)[..., 0]),
    )


def sleap_nn_predict(model_dir: Path, ds: Dataset, peak_threshold: float) -> np.ndarray:
    """x, y of sleap-nn's own inference with ``peak_threshold`` (NaN below it)."""
    from sleap_nn.inference.predictor import Predictor

    from benchmark.images import read_image

    predictor = Predictor.from_model_paths([str(model_dir)], peak_threshold=peak_threshold)
    images = np.stack([read_image(p) for p in ds.image_paths])
    (batch,) = predictor.predict(images, make_labels=False, frames=list(range(ds.n_frames)))
    return batch.pred_keypoints[:, 0].cpu().numpy()


def test_training_clock(tmp_path: Path) -> None:
    """Snapshots load, and a spent budget stops training at the first epoch boundary."""
    preds = check_training_clock("sleap", {**CONFIG, "epochs": 4}, tmp_path)
    assert len(preds) >= 4 and not np.allclose(preds[0], preds[-1])
    model_dir = tmp_path / "budget" / MODEL_DIR
    notes = read_notes(model_dir)
    assert notes["stopped_by_budget"] and notes["epochs_run"] == 1
    with open(model_dir / "training_log.csv", newline="") as fh:
        assert [r["epoch"] for r in csv.DictReader(fh)] == ["0"]  # Lightning stopped there
    assert (model_dir / "best.ckpt").is_file()


def test_conformance(tmp_path: Path) -> None:
    check_adapter("sleap", CONFIG, tmp_path)
