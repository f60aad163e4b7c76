"""The DeepLabCut adapter against real DeepLabCut 3 (PyTorch engine), offline, on tiny frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.base import ConfigError, read_notes
from adapters.deeplabcut.adapter import DeepLabCutAdapter, concat_frames, dlc_rows
from benchmark.conformance import check_adapter
from benchmark.dataset import Dataset
from benchmark.images import read_image
from benchmark.metrics import summarize
from benchmark.synthetic.blobs import make_blob_dataset

pytestmark = pytest.mark.integration

# Tiny and CPU-sized: 2 epochs on 64x48 frames train in seconds.
CONFIG = {"epochs": 2, "batch_size": 4, "device": "cpu"}


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


@pytest.mark.parametrize(
    "bad",
    [{"train_crop": "big"}, {"pretrained": "yes"}, {"epochs": 0}, {"pytorch_cfg_updates": [1]}],
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
