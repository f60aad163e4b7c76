"""The ``trackrat`` adapter: our baseline coordinate-regression CNN (see ``model``)."""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.options import POSITIVE_INT, Number, Rule
from adapters.torch_common import COMMON_DEFAULTS, COMMON_RULES, TorchNetAdapter


class TrackRatAdapter(TorchNetAdapter):
    """Small ResNet-style CNN regressing K keypoint coordinates directly (score always 1.0)."""

    name: ClassVar[str] = "trackrat"
    model_module: ClassVar[str] = "adapters.trackrat_cnn.model"
    default_config: ClassVar[dict[str, Any]] = {
        **COMMON_DEFAULTS,
        "width": 24,  # channels after the stem; doubled at each of 3 downsamplings
        "fc_units": 256,
        "dropout": 0.1,
    }
    option_rules: ClassVar[dict[str, Rule]] = {
        **COMMON_RULES,
        "width": POSITIVE_INT,
        "fc_units": POSITIVE_INT,
        "dropout": Number(min=0, below=1),
    }
