"""The interface every framework adapter implements, and what every adapter shares.

An adapter converts the harness's data into its framework's format and calls that framework's
own public API. It never splits data, never computes metrics and never times itself: the
harness does all three, identically for every framework.

Shared pieces, each written once: option checking (:mod:`adapters.options`), the notes file
(:func:`write_notes`, :func:`read_notes`), the training clock (:meth:`Adapter.training_starts`,
:meth:`Adapter.end_epoch`: progress, the run's training budget and learning-curve snapshots,
see :mod:`benchmark.budget`), pretrained weights and offline mode (:mod:`adapters.pretrained`).

The training protocol, for every framework alike:

1. ``train`` imports the framework and converts the frames, then calls
   ``self.training_starts()``: the harness's training clock starts there.
2. At every epoch end it calls ``self.end_epoch(epoch, epochs, loss=...)`` from whatever
   hook its framework offers (a Lightning or Keras callback, a log line, our own loop) and
   obeys the answer: ``stop`` ends training at this epoch boundary, keeping the current
   weights as the model (the job is done, "stopped by budget"); ``snapshot`` is a folder
   where it saves the current weights so that ``load(model_dir, workdir, snapshot=folder)``
   predicts with them (the learning curve).
3. ``load`` and the predictor return every location the framework produces, with its
   score; NaN only where the framework gives no location. The framework's own cutoff (what
   its users would see as "not detected") is the predictor's ``score_cutoff``: the harness
   applies it, in a second set of metrics.
"""

from __future__ import annotations

import abc
import importlib.metadata
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from adapters.options import ConfigError, Rule, check_options
from benchmark.budget import EpochEnd, TrainingClock
from benchmark.dataset import Dataset
from benchmark.paths import atomic_write_text

__all__ = [
    "NOTES_FILE",
    "Adapter",
    "ConfigError",
    "EpochEnd",
    "ImagePredictor",
    "Predictor",
    "ProgressHook",
    "VideoPredictor",
    "check_predictions",
    "read_notes",
    "spread_subset",
    "versions",
    "write_notes",
]

ProgressHook = Callable[[dict[str, Any]], None]

#: What an adapter recorded about training, in its model dir; the worker copies it into the
#: job's result and the report shows it.
NOTES_FILE = "kpbench_notes.json"


@runtime_checkable
class Predictor(Protocol):
    """A loaded model: maps frames to ``(n_frames, n_keypoints, 3)`` x, y, score (NaN = miss).

    ``kpbench track`` also uses these optional members when a predictor has them, each with
    the one signature declared here:

    - ``predict_images`` (:class:`ImagePredictor`): RGB frames in memory.
    - ``predict_video`` (:class:`VideoPredictor`): the framework's own video inference.
    - ``score_cutoff: float``: the framework's own cutoff (DeepLabCut's ``pcutoff``, SLEAP's
      peak threshold): the harness's second set of metrics counts scores below it as
      misses, and labelled videos draw them hollow. Predictors still return those points.
    """

    def __call__(self, frames: Dataset) -> np.ndarray: ...


@runtime_checkable
class ImagePredictor(Predictor, Protocol):
    """A predictor that also takes frames in memory."""

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB frames (any sizes) to ``(n, k, 3)`` x, y, score in their
        pixels, columns in the training keypoints' order."""
        ...


@runtime_checkable
class VideoPredictor(Predictor, Protocol):
    """A predictor that reads videos with the framework's own reader."""

    def predict_video(self, video: Path, keypoints: Sequence[str]) -> Iterator[np.ndarray]:
        """Every frame of ``video``: ``(m, k, 3)`` blocks of consecutive frames from frame 0,
        columns in ``keypoints`` order (an error when the model lacks one of them)."""
        ...


def write_notes(model_dir: Path, notes: Mapping[str, Any]) -> None:
    """Write ``notes`` (JSON-able; other values as text) as the model dir's notes file."""
    atomic_write_text(Path(model_dir) / NOTES_FILE, json.dumps(notes, indent=2, default=str))


def read_notes(model_dir: Path) -> dict[str, Any]:
    """The model dir's notes ({} when it has none)."""
    path = Path(model_dir) / NOTES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class Adapter(abc.ABC):
    """Base class for framework adapters.

    Subclasses set ``name``, ``framework`` (the distribution whose version is reported, or
    None for our own networks), ``default_config`` (every option and its default) and, for
    options whose default's type says too little, ``option_rules`` (see
    :mod:`adapters.options`), and implement ``train`` and ``load``.

    Attributes:
        progress: Called with ``{"epoch": e, "epochs": n, ...}`` as training advances; the
            runner shows it. Adapters call ``self.end_epoch``.
        clock: The harness's training clock (budget, snapshots); the worker sets it, and
            a default one (no budget, no snapshots) only times.
    """

    name: ClassVar[str]
    framework: ClassVar[str | None] = None
    default_config: ClassVar[Mapping[str, Any]] = {}
    #: What an option accepts beyond its default's type (ranges, choices, null).
    option_rules: ClassVar[Mapping[str, Rule]] = {}
    #: Same seed and data give the same predictions (checked by the conformance suite).
    deterministic: ClassVar[bool] = False
    #: Name of the adapter's own environment (``benchmark.envs``), built from the
    #: ``requirements.lock`` next to its module; None runs in the main environment.
    environment: ClassVar[str | None] = None

    def __init__(
        self, progress: ProgressHook | None = None, clock: TrainingClock | None = None
    ) -> None:
        self.progress = progress
        self.clock = clock if clock is not None else TrainingClock()

    # ----- description -----
    @classmethod
    def version(cls) -> str | None:
        """Installed version of the wrapped framework (kpbench's own for our networks)."""
        dist = cls.framework or "kpbench"
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    @classmethod
    def environment_info(cls) -> dict[str, Any]:
        """Framework and backend versions of the running environment, for the job record."""
        return {}

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether the adapter can run in this environment, and why not when it cannot."""
        if cls.framework is not None and cls.version() is None:
            return False, f"{cls.framework} is not installed"
        return True, ""

    @classmethod
    def resolve_config(cls, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with ``config``, every value checked.

        Raises:
            ConfigError: An unknown option (with a did-you-mean) or a value out of range.
        """
        return check_options(cls.name, cls.default_config, cls.option_rules, config)

    # ----- the protocol -----
    @abc.abstractmethod
    def train(
        self,
        train: Dataset,
        val: Dataset | None,
        workdir: Path,
        config: Mapping[str, Any],
        seed: int,
    ) -> Path:
        """Train on ``train`` (``val`` only for model selection) and return the model dir.

        The model dir must hold everything ``load`` needs, including the resolved config.
        """

    @abc.abstractmethod
    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> Predictor:
        """Load a trained model for prediction (timed by the harness as ``load_s``).

        Args:
            model_dir: What ``train`` returned.
            workdir: A scratch folder.
            snapshot: A snapshot folder that ``train`` filled when ``end_epoch`` asked for
                one: predict with those weights instead of the final model's.
        """

    def predict(self, model_dir: Path, frames: Dataset, workdir: Path) -> np.ndarray:
        """Predict ``frames``: ``(n_frames, n_keypoints, 3)`` x, y, score in original pixels."""
        return self.load(model_dir, workdir)(frames)

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """``n_params`` and ``model_mb`` of a trained model (None where unknown)."""
        files = [p for p in Path(model_dir).rglob("*") if p.is_file()]
        return {"n_params": None, "model_mb": sum(p.stat().st_size for p in files) / 2**20}

    def training_starts(self) -> None:
        """Mark the start of training proper: the framework is imported and the data
        converted. The harness's ``train_s`` and the budget count from here."""
        self.clock.start()

    def end_epoch(self, epoch: int, epochs: int | None, **values: float | str | None) -> EpochEnd:
        """Epoch ``epoch`` (from 1) of ``epochs`` finished: report it, and learn whether to
        stop (the budget is spent) or save a snapshot (see the module docstring).

        ``values`` are the epoch's numbers by kpbench's names (``loss``, ``val_loss``); None
        or empty ones (a framework that did not log them this epoch) are left out, the rest
        become floats.
        """
        answer = self.clock.epoch_end(int(epoch), None if epochs is None else int(epochs))
        if self.progress is not None:
            numbers = {k: float(v) for k, v in values.items() if v is not None and v != ""}
            self.progress({"epoch": int(epoch), "epochs": epochs, **numbers})
        return answer


def versions(*dists: str) -> dict[str, str | None]:
    """The installed version of each distribution (None when it is not installed)."""
    found: dict[str, str | None] = {}
    for dist in dists:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def spread_subset(ds: Dataset, n: int) -> Dataset:
    """At most ``n`` frames of ``ds``, evenly spread over it (all frames when it has fewer).

    What an adapter validates on when a run gives no val frames and its framework wants
    some: a fixed choice (no randomness), spread over the videos and their time.
    """
    if ds.n_frames <= n:
        return ds
    rows = np.unique(np.linspace(0, ds.n_frames - 1, n).round().astype(int))
    return ds.subset([ds.frame_ids[i] for i in rows])


def check_predictions(pred: np.ndarray, frames: Dataset, adapter: str) -> np.ndarray:
    """Validate an adapter's output shape and return it as float64.

    Raises:
        ValueError: The array is not ``(n_frames, n_keypoints, 3)``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    expected = (frames.n_frames, frames.n_keypoints, 3)
    if pred.shape != expected:
        raise ValueError(f"adapter {adapter!r} returned shape {pred.shape}, expected {expected}")
    # A point is detected only when both coordinates are finite.
    miss = ~np.isfinite(pred[..., :2]).all(axis=-1)
    pred[miss, :2] = np.nan
    return pred
