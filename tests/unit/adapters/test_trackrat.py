"""The trackrat coordinate-regression network."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from adapters.trackrat_cnn import TrackRatAdapter
from tests.unit.adapters.torch_net_contract import TorchNetContract


class TestTrackRat(TorchNetContract):
    adapter_cls = TrackRatAdapter
    fast: ClassVar[dict] = {
        "epochs": 30,
        "filters": 8,
        "fc_units": 64,
        "scale": 1.0,
        "val_every": 10,
    }
    max_median_px = 6.0
    # Direct regression from a 2x-resampled frame moves a point by up to about 4 px of the
    # big frame after this tiny training (seen on another CPU); heatmap peaks move less.
    scale_atol_px = 8.0

    def test_every_point_is_detected_with_score_one(self, trained, blobs, tmp_path) -> None:
        adapter, model_dir, _ = trained
        pred = adapter.load(model_dir, tmp_path)(blobs[1])
        assert np.isfinite(pred).all()
        assert (pred[..., 2] == 1.0).all()
