"""The DeepLabCut adapter against real DeepLabCut 3 (PyTorch engine), offline, on tiny frames."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adapters.base import ConfigError, read_notes
from adapters.deeplabcut.adapter import (
    PROJECT,
    DeepLabCutAdapter,
    _EpochHook,
    concat_frames,
    dlc_rows,
    snapshot_file,
)
from benchmark.conformance import check_adapter, check_training_clock
from benchmark.dataset import Dataset
from benchmark.images import read_image
from benchmark.metrics import summarize
from benchmark.synthetic.blobs import make_blob_dataset

pytestmark = pytest.mark.integration

# Tiny and CPU-sized: 2 epochs on 64x48 frames train in seconds.
CONFIG = {"epochs": 2, "batch_size": 4, "device": "cpu"}
# The training clock's checks: 4 epochs of the smallest net on 48x48 crops, offline.
CLOCK_CONFIG = {
    **CONFIG,
    "epochs": 4,
    "net_type": "cspnext_s",
    "train_crop": [48, 48],
    "pretrained": False,
}


@pytest.fixture(autouse=True)
def offline_one_thread(monkeypatch: pytest.MonkeyPatch):
    """No model hub, and one torch thread (the test machine's cores are shared)."""
    pytest.importorskip("deeplabcut")
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def two_folder_dataset(folder: Path) -> Dataset:
    """16 frames of 64x48 px in two labelled folders, ``vid2`` listed before ``vid1``.

    DeepLabCut orders its merged label table by path, so row numbers differ from this order.
    """
    a = make_blob_dataset(folder, n_frames=8, video="vid2", seed=1)
    b = make_blob_dataset(folder, n_frames=8, video="vid1", seed=2)
    return concat_frames(a, b)


def test_dlc_rows_follow_the_sorted_table() -> None:
    rel = [
        "labeled-data/vid2/img0001.png",
        "labeled-data/vid1/img0003.png",
        "labeled-data/vid2/img0000.png",
        "labeled-data/vid1/img0000.png",
    ]
    assert dlc_rows(rel) == [3, 1, 2, 0]


def test_dlc_log_lines_become_epochs_and_root_logging_is_restored(tmp_path: Path) -> None:
    """DeepLabCut's train_network replaces the root handlers; the hook puts them back."""
    seen: list[dict[str, Any]] = []
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    hook = _EpochHook(DeepLabCutAdapter(progress=seen.append), tmp_path, "snapshot")
    with hook.on_root_logger():
        logging.basicConfig(level=logging.INFO, force=True)  # as DLC's setup_file_logging
        # DeepLabCut's runner logs on the root logger, as here.
        logging.info("Epoch 1/2 (lr=0.0005), train loss 0.01234")
        logging.info("Training for epoch 2 done, starting evaluation")
        logging.info("Epoch 2/2 (lr=0.0005), train loss 1.5e-03, valid loss 0.20000")
    assert seen == [
        {"epoch": 1, "epochs": 2, "loss": 0.01234},
        {"epoch": 2, "epochs": 2, "loss": 0.0015, "val_loss": 0.2},
    ]
    assert hook.done == 2 and hook.stopped_at is None
    assert root.handlers == before and root.level == level
    assert not root.filters


@pytest.mark.parametrize(
    "bad",
    [
        {"train_crop": "big"},
        {"pretrained": "yes"},
        {"epochs": 0},
        {"pytorch_cfg_updates": [1]},
        {"save_epochs": 5},  # every epoch is saved: the training clock may stop at any
    ],
)
def test_bad_options_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError):
        DeepLabCutAdapter.resolve_config(bad)


def test_mean_px_equals_dlc_test_rmse(tmp_path: Path) -> None:
    """The harness's mean_px on DLC's test frames equals evaluate_network's test "rmse"."""
    import deeplabcut

    ds = two_folder_dataset(tmp_path / "data")
    test_ids = ds.frame_ids[1::4]  # two frames from each folder
    train = ds.subset([f for f in ds.frame_ids if f not in test_ids])
    test = ds.subset(test_ids)
    progress: list[dict] = []
    adapter = DeepLabCutAdapter(progress=progress.append)
    # The test frames are passed as val: the adapter makes val DLC's test set.
    model_dir = adapter.train(train, test, tmp_path / "work", {**CONFIG, "pretrained": "auto"}, 0)

    # DLC's log lines as progress: every epoch, its train loss, and its valid loss when
    # DLC evaluated (its eval_interval is 1 here: 2 epochs).
    assert [(p["epoch"], p["epochs"]) for p in progress] == [(1, 2), (2, 2)]
    assert all(p["loss"] > 0 for p in progress), progress
    notes = read_notes(model_dir)
    assert notes["pretrained"] is False, "offline with nothing cached must mean random init"
    assert notes["train_crop"] == [64, 48]
    assert (notes["epochs_run"], notes["stopped_by_budget"]) == (2, False)
    predictor = adapter.load(model_dir, tmp_path / "work")
    pred = predictor(test)
    arrays = predictor.predict_images([read_image(p) for p in test.image_paths])
    np.testing.assert_allclose(arrays, pred, atol=1e-4)
    with pytest.raises(ValueError, match="no keypoint 'nose'"):  # before reading the video
        next(predictor.predict_video(tmp_path / "absent.mp4", [*test.keypoints[:1], "nose"]))

    config = model_dir / "config.yaml"
    deeplabcut.evaluate_network(str(config), Shuffles=[1])
    results = next((model_dir / "evaluation-results-pytorch").rglob("DLC_*-results.csv"))
    dlc_rmse = float(pd.read_csv(results)["test rmse"].iloc[0])
    mean_px = summarize(test.points, pred, test.keypoints)["mean_px"]
    print(f"DLC test rmse {dlc_rmse:.4f} px, kpbench mean_px {mean_px:.4f} px")
    assert abs(mean_px - dlc_rmse) <= 0.05

    # DLC's evaluation predicted the very frames the adapter predicted, identically.
    dlc_pred = pd.read_hdf(results.with_name(results.name.replace("-results.csv", ".h5")))
    dlc_pred.index = ["/".join(i) for i in dlc_pred.index]
    xy = dlc_pred.loc[list(test_ids)].to_numpy().reshape(test.n_frames, test.n_keypoints, 3)
    np.testing.assert_allclose(xy, pred, atol=1e-3)


def test_conformance_without_val(tmp_path: Path) -> None:
    """The shared adapter checks (no val frames, a keypoint never labelled, 96x72 frames)."""
    check_adapter("deeplabcut", {**CONFIG, "epochs": 1, "pretrained": False}, tmp_path)


def test_training_clock(tmp_path: Path) -> None:
    """The shared training-clock checks, then what DLC itself holds after them."""
    import torch

    check_training_clock("deeplabcut", CLOCK_CONFIG, tmp_path)

    # Each snapshot folder holds DLC's own file of the epoch the clock asked at.
    curve = tmp_path / "curve"
    folders = sorted((curve / "snapshots").iterdir())
    assert [f.name for f in folders] == ["epoch-00001", "epoch-00002", "epoch-00003"]
    for folder in folders:
        saved = torch.load(snapshot_file(folder), map_location="cpu", weights_only=True)
        assert saved["metadata"]["epoch"] == int(folder.name.split("-")[1])
    notes = read_notes(curve / PROJECT)
    assert (notes["epochs_run"], notes["stopped_by_budget"]) == (4, False)
    # DLC kept the last epoch's file and at most its "best": not one file per epoch.
    model_folder = (curve / PROJECT / notes["snapshot"]).parent
    kept = sorted(p.name for p in model_folder.glob("snapshot-*.pt"))
    assert any(name.endswith("-004.pt") for name in kept) and len(kept) <= 2, kept

    # The budget stop kept epoch 1's weights as the model.
    notes = read_notes(tmp_path / "budget" / PROJECT)
    assert (notes["epochs_run"], notes["stopped_by_budget"]) == (1, True)
    model = torch.load(tmp_path / "budget" / PROJECT / notes["snapshot"], weights_only=True)
    assert model["metadata"]["epoch"] == 1
