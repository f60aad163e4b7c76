"""Small adapters that exercise the runner without a deep-learning framework.

``MeanPoseAdapter`` is a real (if weak) model: it predicts each keypoint at its mean training
position, relative to the image size. ``FailingAdapter`` fails in a configurable way
(exception, segfault, hang) so tests can check that one bad job fails alone.
"""

from __future__ import annotations

import ctypes
import json
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.base import Adapter, Predictor, write_notes
from benchmark.dataset import Dataset


def _relative(ds: Dataset) -> np.ndarray:
    sizes = np.array(ds.image_sizes(), dtype=float)[:, None, :]
    return ds.points / sizes


def _write_mean(folder: Path, relative: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a keypoint with no label yet
        mean = np.nanmean(relative, axis=0)
    (folder / "mean.json").write_text(json.dumps(np.nan_to_num(mean, nan=0.5).tolist()))


class MeanPoseAdapter(Adapter):
    """Predicts every keypoint at its mean relative position in the training frames."""

    name = "mean-pose"
    #: ``shift``: moves every prediction by this fraction of the image width (a worse model,
    #: for tests that choose between settings).
    default_config: ClassVar[Mapping[str, Any]] = {"epochs": 3, "sleep_s": 0.0, "shift": 0.0}

    def train(self, train, val, workdir, config, seed) -> Path:
        """Mean over the first ``epoch`` training frames after each epoch (all of them at
        the end), so snapshots differ from the final model; ``sleep_s`` is spread over the
        epochs."""
        config = self.resolve_config(config)
        relative = _relative(train)
        self.training_starts()
        epochs, epoch = config["epochs"], 0
        for epoch in range(1, epochs + 1):
            time.sleep(config["sleep_s"] / epochs)
            answer = self.end_epoch(epoch, epochs, loss=1.0 / epoch)
            if answer.snapshot is not None:
                _write_mean(answer.snapshot, relative[:epoch])
            if answer.stop:
                break
        model_dir = Path(workdir) / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        _write_mean(model_dir, relative + np.array([config["shift"], 0.0]))
        write_notes(model_dir, {"kind": "mean pose", "epochs_run": epoch})
        return model_dir

    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> Predictor:
        mean = np.array(json.loads((Path(snapshot or model_dir) / "mean.json").read_text()))

        def predict(frames: Dataset) -> np.ndarray:
            sizes = np.array(frames.image_sizes(), dtype=float)[:, None, :]
            xy = mean[None] * sizes
            return np.concatenate([xy, np.ones((*xy.shape[:2], 1))], axis=-1)

        return predict

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        return {"n_params": 0, "model_mb": 0.0}


class FailingAdapter(Adapter):
    """Fails during training: ``mode`` is ``raise``, ``segfault``, ``hang`` or ``disk_full``
    (a write refused with ENOSPC, as on a full disk: it writes to ``/dev/full``)."""

    name = "failing"
    default_config: ClassVar[Mapping[str, Any]] = {"mode": "raise"}

    def train(self, train, val, workdir, config, seed) -> Path:
        mode = self.resolve_config(config)["mode"]
        if mode == "segfault":
            ctypes.string_at(0)
        if mode == "hang":
            time.sleep(3600)
        if mode == "disk_full":
            with open("/dev/full", "wb") as fh:
                fh.write(b"weights" * 10_000)
                fh.flush()
        raise RuntimeError("deliberate failure in FailingAdapter.train")

    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> Predictor:
        raise AssertionError("never reached")


class VideoMeanPoseAdapter(MeanPoseAdapter):
    """MeanPoseAdapter whose predictor reads videos itself (``predict_video``, blocks of 5
    frames) and names its own low-score cutoff (``score_cutoff`` 0.9), as the DeepLabCut and
    SLEAP predictors do. ``video_frames`` makes its reader stop early (a reader that disagrees
    with kpbench's about the frame count)."""

    name = "video-mean-pose"
    default_config: ClassVar[Mapping[str, Any]] = {
        **MeanPoseAdapter.default_config,
        "video_frames": None,
    }

    def train(self, train, val, workdir, config, seed) -> Path:
        model_dir = super().train(train, val, workdir, config, seed)
        limit = self.resolve_config(config)["video_frames"]
        (model_dir / "video.json").write_text(json.dumps({"video_frames": limit}))
        return model_dir

    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> Predictor:
        mean = np.array(json.loads((Path(snapshot or model_dir) / "mean.json").read_text()))
        limit = json.loads((Path(model_dir) / "video.json").read_text())["video_frames"]
        return _VideoMeanPosePredictor(mean, limit)


class _VideoMeanPosePredictor:
    score_cutoff = 0.9

    def __init__(self, mean: np.ndarray, limit: int | None) -> None:
        self.mean = mean
        self.limit = limit

    def _pose(self, width: int, height: int) -> np.ndarray:
        xy = self.mean * np.array([width, height], dtype=float)
        return np.concatenate([xy, np.full((len(xy), 1), 0.8)], axis=-1)

    def __call__(self, frames: Dataset) -> np.ndarray:
        return np.stack([self._pose(w, h) for w, h in frames.image_sizes()])

    def predict_video(self, video: Path, keypoints: Sequence[str]):
        import imageio.v3 as iio

        block = []
        for i, frame in enumerate(iio.imiter(video, plugin="pyav")):
            if self.limit is not None and i >= self.limit:
                break
            block.append(self._pose(frame.shape[1], frame.shape[0]))
            if len(block) == 5:
                yield np.stack(block)
                block = []
        if block:
            yield np.stack(block)
