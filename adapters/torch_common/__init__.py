"""What our own PyTorch networks (``trackrat``, ``heatmap``) share, importable without torch.

The adapter classes live here so that listing adapters stays fast; the torch code (frame
loading, letterboxing, augmentation, the training loop, the predictor) is in
:mod:`adapters.torch_common.engine` and is imported only when a network trains or predicts.
A network package supplies a ``model`` module with three functions:

- ``build(config, n_keypoints) -> torch.nn.Module``
- ``loss(output, points, config, input_size) -> Tensor``: ``points`` is ``(B, K, 2)`` in
  network-input pixels, NaN where unlabelled (those must not contribute).
- ``decode(output, config, input_size) -> np.ndarray``: ``(B, K, 3)`` x, y in network-input
  pixels and a score; x, y NaN where the network does not detect the point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from adapters.base import Adapter, Predictor
from adapters.options import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    Number,
    Pair,
    Rule,
)
from benchmark.dataset import Dataset

#: Options every network has (network-specific ones are added by each adapter).
COMMON_DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    # With a run budget, re-plan the epochs after each one to what fits the budget, so the
    # cosine schedule ends with it (engine.planned_epochs); `epochs` then only sizes the
    # first epoch's schedule. Without a budget, or when false, `epochs` is the schedule.
    "fit_schedule_to_budget": True,
    "batch_size": 8,
    "lr": 2e-3,  # AdamW, cosine decay to 1% over all (planned) epochs
    "weight_decay": 1e-4,
    # Network input: frames are resized (aspect kept) and padded to input_size [w, h]; when
    # None it is the largest training frame times `scale`, rounded up to a multiple of 32.
    "input_size": None,
    "scale": 0.5,
    # Raise `scale` when the labels need it (small or close keypoints; benchmark.resolution:
    # the same rule for every adapter that scales frames down). Never with input_size.
    "resolution_from_data": True,
    # Augmentation, sampled per training image (set augment False to turn all off).
    "augment": True,
    # Horizontal mirror, swapping left/right keypoints; never when no safe pairs are known
    # (Skeleton.mirroring; the notes say why).
    "flip": True,
    "rotation": 20.0,  # max degrees either way
    "zoom": 0.15,  # scale factor drawn from [1 - zoom, 1 + zoom]
    "translate": 0.05,  # max shift as a fraction of the input size
    "brightness": 0.2,  # max additive change on a 0..1 scale
    "contrast": 0.2,  # contrast factor drawn from [1 - contrast, 1 + contrast]
    "val_every": 5,  # epochs between validation passes (best epoch kept) when val is given
    "predict_batch_size": 16,
}

#: What the common options accept beyond their defaults' types.
COMMON_RULES: dict[str, Rule] = {
    "epochs": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "lr": POSITIVE,
    "weight_decay": NON_NEGATIVE,
    "input_size": Pair(Number(integer=True, min=32), nullable=True),
    "scale": Number(above=0, max=4),
    "rotation": Number(min=0, max=180),
    "zoom": Number(min=0, below=1),
    "translate": Number(min=0, max=0.5),
    "brightness": FRACTION,
    "contrast": Number(min=0, below=1),
    "val_every": POSITIVE_INT,
    "predict_batch_size": POSITIVE_INT,
}

MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
#: Options renamed since models were first saved (old name -> new name), so that a model
#: saved before the rename still loads.
RENAMED_OPTIONS = {"width": "filters"}


class TorchNetAdapter(Adapter):
    """Base of our own networks: training and prediction are shared, the network is not.

    Subclasses set ``name``, ``default_config`` (``COMMON_DEFAULTS`` plus their own options)
    and ``model_module``, the dotted name of the module with ``build``/``loss``/``decode``.
    """

    framework: ClassVar[str | None] = None
    model_module: ClassVar[str]

    def train(
        self,
        train: Dataset,
        val: Dataset | None,
        workdir: Path,
        config: Mapping[str, Any],
        seed: int,
    ) -> Path:
        """Train on ``train`` (best epoch on ``val`` when given); returns ``workdir/model``.

        The model dir holds ``weights.pt`` and ``model.json`` (resolved config, keypoint names,
        input size, parameter count, loss history).
        """
        from adapters.torch_common import engine

        return engine.train(self, train, val, Path(workdir), self.resolve_config(config), seed)

    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> Predictor:
        """Load a trained model (or one of its snapshots) as an
        :class:`~adapters.torch_common.engine.NetPredictor`."""
        from adapters.torch_common import engine

        return engine.load(self.model_module, Path(model_dir), snapshot, self.saved_config)

    @classmethod
    def saved_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The full config of a saved model: renamed options under their new names, options
        added since it was saved at their defaults (which build the network it was)."""
        return {**cls.default_config, **{RENAMED_OPTIONS.get(k, k): v for k, v in config.items()}}

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """Parameter count (from ``model.json``) and size on disk of the model dir."""
        info = super().model_info(model_dir)
        meta = json.loads((Path(model_dir) / MODEL_FILE).read_text(encoding="utf-8"))
        info["n_params"] = int(meta["n_params"])
        return info
