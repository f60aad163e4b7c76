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
        "filters": 24,  # channels after the stem; doubled at each downsampling
        "depth": 3,  # stride-2 residual blocks after the stride-4 stem (3: down to 1/32)
        "fc_units": 256,
        "dropout": 0.1,
    }
    option_rules: ClassVar[dict[str, Rule]] = {
        **COMMON_RULES,
        "filters": POSITIVE_INT,
        "depth": Number(integer=True, min=1, max=5),
        "fc_units": POSITIVE_INT,
        "dropout": Number(min=0, below=1),
    }
