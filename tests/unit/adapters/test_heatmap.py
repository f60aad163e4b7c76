"""The heatmap network: contract checks plus peak decoding and its own score cutoff."""

from __future__ import annotations

import json
import shutil
from typing import ClassVar

import numpy as np
import pytest
import torch

from adapters.base import ConfigError
from adapters.heatmap_cnn import HeatmapAdapter
from adapters.heatmap_cnn.model import decode, targets
from adapters.torch_common import MODEL_FILE
from tests.unit.adapters.torch_net_contract import TorchNetContract


class TestHeatmap(TorchNetContract):
    adapter_cls = HeatmapAdapter
    fast: ClassVar[dict] = {"epochs": 30, "filters": 8, "scale": 1.0, "val_every": 10}
    max_median_px = 2.5

    def test_threshold_is_the_own_cutoff_and_every_location_is_returned(
        self, trained, blobs, tmp_path
    ) -> None:
        _, model_dir, _ = trained
        strict = shutil.copytree(model_dir, tmp_path / "strict")
        meta = json.loads((strict / MODEL_FILE).read_text())
        meta["config"]["threshold"] = 1.01
        (strict / MODEL_FILE).write_text(json.dumps(meta))
        predictor = HeatmapAdapter().load(strict, tmp_path)
        assert predictor.score_cutoff == 1.01
        pred = predictor(blobs[1])
        assert np.isfinite(pred[..., :2]).all()  # the harness, not the network, cuts
        assert ((pred[..., 2] >= 0) & (pred[..., 2] <= 1)).all()

    def test_scores_are_peak_values_and_labelled_discs_are_found(self, trained, blobs, tmp_path):
        _, model_dir, _ = trained
        test = blobs[1]
        pred = HeatmapAdapter().predict(model_dir, test, tmp_path)
        assert ((pred[..., 2] >= 0) & (pred[..., 2] <= 1)).all()
        assert np.isfinite(pred[..., 0])[test.labeled].mean() > 0.9


def test_decode_recovers_sub_pixel_peaks() -> None:
    size = (64, 48)  # network input; heatmaps at stride 4 are 16 x 12
    points = torch.tensor([[[10.3, 20.8], [33.7, 5.2], [50.0, 40.45]]])
    maps = targets(points, (12, 16), (4.0, 4.0), sigma=3.0)
    pred = decode(torch.logit(maps, eps=1e-6), {"threshold": 0.5}, size)
    np.testing.assert_allclose(pred[0, :, :2], points[0].numpy(), atol=0.05)
    assert (pred[0, :, 2] > 0.8).all()  # grid samples near the true peak


def test_decode_keeps_low_peaks_with_their_score() -> None:
    maps = targets(torch.tensor([[[20.0, 20.0], [40.0, 30.0]]]), (12, 16), (4.0, 4.0), 3.0)
    maps[0, 1] *= 0.1
    pred = decode(torch.logit(maps, eps=1e-6), {"threshold": 0.2}, (64, 48))
    assert np.isfinite(pred[0]).all()
    np.testing.assert_allclose(pred[0, 1, :2], [40.0, 30.0], atol=0.5)
    assert pred[0, 1, 2] < 0.2 < pred[0, 0, 2]


def test_unknown_loss_is_a_config_error(blob_dataset, tmp_path) -> None:
    with pytest.raises(ConfigError, match="option 'loss' must be one of bce, mse"):
        HeatmapAdapter().train(blob_dataset, None, tmp_path, {"loss": "l1"}, seed=0)
