"""The interface every framework adapter implements.

An adapter converts the harness's data into its framework's format and calls that framework's
own public API. It never splits data, never computes metrics and never times itself: the
harness does all three, identically for every framework.
"""

from __future__ import annotations

import abc
import importlib.metadata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from adapters.options import ConfigError, Rule, check_options
from benchmark.dataset import Dataset

__all__ = ["Adapter", "ConfigError", "Predictor", "ProgressHook", "check_predictions"]

ProgressHook = Callable[[dict[str, Any]], None]


class Predictor(Protocol):
    """A loaded model: maps frames to ``(n_frames, n_keypoints, 3)`` x, y, score (NaN = miss).

    ``kpbench track`` also uses these optional members when a predictor has them:
    ``predict_video(path, keypoints)`` (the framework's own video inference, yielding
    ``(m, k, 3)`` blocks of consecutive frames), ``predict_images(images)`` (RGB arrays in
    memory) and ``score_cutoff`` (scores below it are drawn hollow).
    """

    def __call__(self, frames: Dataset) -> np.ndarray: ...


class Adapter(abc.ABC):
    """Base class for framework adapters.

    Subclasses set ``name``, ``framework`` (the distribution whose version is reported, or
    None for our own networks), ``default_config`` (every option and its default) and, for
    options whose default's type says too little, ``option_rules`` (see
    :mod:`adapters.options`), and implement ``train`` and ``load``.

    Attributes:
        progress: Called with ``{"epoch": e, "epochs": n, ...}`` as training advances; the
            runner shows it. Adapters call ``self.report_progress``.
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

    def __init__(self, progress: ProgressHook | None = None) -> None:
        self.progress = progress

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
    def load(self, model_dir: Path, workdir: Path) -> Predictor:
        """Load a trained model for prediction (timed by the harness as ``load_s``)."""

    def predict(self, model_dir: Path, frames: Dataset, workdir: Path) -> np.ndarray:
        """Predict ``frames``: ``(n_frames, n_keypoints, 3)`` x, y, score in original pixels."""
        return self.load(model_dir, workdir)(frames)

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """``n_params`` and ``model_mb`` of a trained model (None where unknown)."""
        files = [p for p in Path(model_dir).rglob("*") if p.is_file()]
        return {"n_params": None, "model_mb": sum(p.stat().st_size for p in files) / 2**20}

    def report_progress(self, epoch: int, epochs: int, **values: Any) -> None:
        """Tell the runner that ``epoch`` of ``epochs`` finished (with e.g. ``loss``)."""
        if self.progress is not None:
            self.progress({"epoch": epoch, "epochs": epochs, **values})


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
