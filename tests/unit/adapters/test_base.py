"""What every adapter shares: the notes file, progress, and the predictor protocol."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.base import (
    NOTES_FILE,
    Adapter,
    EpochEnd,
    ImagePredictor,
    Predictor,
    VideoPredictor,
    read_notes,
    spread_subset,
    write_notes,
)
from adapters.deeplabcut.adapter import DeepLabCutPredictor
from adapters.deepposekit.adapter import DeepPoseKitPredictor
from adapters.sleap.adapter import SleapPredictor
from adapters.torch_common.engine import NetPredictor
from adapters.yolo.adapter import YoloPredictor
from benchmark.budget import TrainingClock
from tests.fixtures import make_blob_dataset


class _Recording(Adapter):
    name = "recording"

    def train(self, train, val, workdir, config, seed) -> Path:  # pragma: no cover
        raise NotImplementedError

    def load(self, model_dir, workdir, snapshot=None) -> Predictor:  # pragma: no cover
        raise NotImplementedError


def test_notes_round_trip(tmp_path: Path) -> None:
    assert read_notes(tmp_path) == {}
    write_notes(tmp_path, {"pretrained": False, "where": tmp_path})
    assert json.loads((tmp_path / NOTES_FILE).read_text()) == {
        "pretrained": False,
        "where": str(tmp_path),
    }
    assert read_notes(tmp_path) == {"pretrained": False, "where": str(tmp_path)}


def test_end_epoch_leaves_out_missing_values_and_makes_floats() -> None:
    seen: list[dict[str, Any]] = []
    adapter = _Recording(progress=seen.append)
    adapter.end_epoch(1, 3, loss=None, val_loss="")  # sleap-nn's first CSV row
    adapter.end_epoch(2, 3, loss="0.5", val_loss=np.float32(0.25))
    assert seen == [
        {"epoch": 1, "epochs": 3},
        {"epoch": 2, "epochs": 3, "loss": 0.5, "val_loss": 0.25},
    ]
    assert all(type(v) in (int, float) for record in seen for v in record.values())
    assert _Recording().end_epoch(1, 3, loss=1.0) == EpochEnd()  # no hook, no budget


def test_end_epoch_answers_with_the_clock(tmp_path: Path) -> None:
    """The adapter's clock (the worker's) decides: a spent budget stops at the epoch."""
    clock = TrainingClock(budget_s=1e-9, snapshot_root=tmp_path)
    adapter = _Recording(clock=clock)
    adapter.training_starts()
    assert adapter.end_epoch(1, 10).stop
    assert clock.stopped_by_budget and clock.epochs_done == 1


PREDICTORS = [
    DeepLabCutPredictor,
    SleapPredictor,
    DeepPoseKitPredictor,
    NetPredictor,
    YoloPredictor,
]


def _parameters(method: Any) -> list[tuple[str, Any]]:
    """Names and defaults of a method's parameters, ``self`` included."""
    return [(p.name, p.default) for p in inspect.signature(method).parameters.values()]


@pytest.mark.parametrize("cls", PREDICTORS, ids=lambda c: c.__name__)
def test_predictors_have_the_protocols_signatures(cls: type) -> None:
    """Each optional method has exactly the protocol's parameters, so callers need no
    inspection of signatures."""
    assert callable(cls.__call__)
    for protocol, method in ((ImagePredictor, "predict_images"), (VideoPredictor, "predict_video")):
        if hasattr(cls, method):
            assert _parameters(getattr(cls, method)) == _parameters(getattr(protocol, method))
    assert hasattr(cls, "predict_images"), "every built-in predictor takes frames in memory"


def test_protocols_tell_predictors_apart() -> None:
    class Plain:
        def __call__(self, frames):
            return np.zeros((0, 0, 3))

    class Video(Plain):
        def predict_video(self, video, keypoints):
            yield np.zeros((0, 0, 3))

    assert isinstance(Plain(), Predictor)
    assert not isinstance(Plain(), ImagePredictor | VideoPredictor)
    assert isinstance(Video(), VideoPredictor) and not isinstance(Video(), ImagePredictor)


def test_spread_subset_takes_frames_evenly_from_first_to_last(tmp_path: Path) -> None:
    ds = make_blob_dataset(tmp_path, n_frames=10)
    picked = spread_subset(ds, 4)
    assert list(picked.frame_ids) == [ds.frame_ids[i] for i in (0, 3, 6, 9)]
    assert spread_subset(ds, 4).frame_ids == picked.frame_ids  # no randomness
    assert spread_subset(ds, 10) is ds and spread_subset(ds, 16) is ds
