"""Small adapters that exercise the runner without a deep-learning framework.

``MeanPoseAdapter`` is a real (if weak) model: it predicts each keypoint at its mean training
position, relative to the image size. ``FailingAdapter`` fails in a configurable way
(exception, segfault, hang) so tests can check that one bad job fails alone.
"""

from __future__ import annotations

import ctypes
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.base import Adapter, Predictor
from benchmark.dataset import Dataset


def _relative(ds: Dataset) -> np.ndarray:
    sizes = np.array(ds.image_sizes(), dtype=float)[:, None, :]
    return ds.points / sizes


class MeanPoseAdapter(Adapter):
    """Predicts every keypoint at its mean relative position in the training frames."""

    name = "mean-pose"
    default_config: ClassVar[Mapping[str, Any]] = {"epochs": 3, "sleep_s": 0.0}

    def train(self, train, val, workdir, config, seed) -> Path:
        config = self.resolve_config(config)
        for epoch in range(1, config["epochs"] + 1):
            time.sleep(config["sleep_s"] / config["epochs"])
            self.report_progress(epoch, config["epochs"], loss=1.0 / epoch)
        mean = np.nanmean(_relative(train), axis=0)
        model_dir = Path(workdir) / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / "mean.json").write_text(json.dumps(np.nan_to_num(mean, nan=0.5).tolist()))
        (model_dir / "kpbench_notes.json").write_text(json.dumps({"kind": "mean pose"}))
        return model_dir

    def load(self, model_dir: Path, workdir: Path) -> Predictor:
        mean = np.array(json.loads((Path(model_dir) / "mean.json").read_text()))

        def predict(frames: Dataset) -> np.ndarray:
            sizes = np.array(frames.image_sizes(), dtype=float)[:, None, :]
            xy = mean[None] * sizes
            return np.concatenate([xy, np.ones((*xy.shape[:2], 1))], axis=-1)

        return predict

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        return {"n_params": 0, "model_mb": 0.0}


class FailingAdapter(Adapter):
    """Fails during training: ``mode`` is ``raise``, ``segfault`` or ``hang``."""

    name = "failing"
    default_config: ClassVar[Mapping[str, Any]] = {"mode": "raise"}

    def train(self, train, val, workdir, config, seed) -> Path:
        mode = self.resolve_config(config)["mode"]
        if mode == "segfault":
            ctypes.string_at(0)
        if mode == "hang":
            time.sleep(3600)
        raise RuntimeError("deliberate failure in FailingAdapter.train")

    def load(self, model_dir: Path, workdir: Path) -> Predictor:
        raise AssertionError("never reached")
