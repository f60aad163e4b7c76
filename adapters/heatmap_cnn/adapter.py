"""The ``heatmap`` adapter: our fast encoder-decoder heatmap network (see ``model``)."""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.options import FRACTION, POSITIVE, POSITIVE_INT, Number, OneOf, Rule
from adapters.torch_common import COMMON_DEFAULTS, COMMON_RULES, TorchNetAdapter


class HeatmapAdapter(TorchNetAdapter):
    """Light UNet predicting one heatmap per keypoint; its peak value is the score, and
    ``threshold`` is its own cutoff (the predictor's ``score_cutoff``)."""

    name: ClassVar[str] = "heatmap"
    model_module: ClassVar[str] = "adapters.heatmap_cnn.model"
    default_config: ClassVar[dict[str, Any]] = {
        **COMMON_DEFAULTS,
        "filters": 16,  # channels of the first stage; doubled at each downsampling
        "depth": 4,  # stride-2 encoder stages (4: down to 1/16)
        "output_stride": 4,  # heatmap resolution: 2 or 4 network-input pixels per cell
        "sigma": 3.0,  # Gaussian target radius in network-input pixels
        "threshold": 0.2,  # own cutoff: peaks below it count as "not detected" in that view
        "loss": "bce",  # per-pixel sigmoid cross-entropy ("bce") or squared error ("mse")
    }
    option_rules: ClassVar[dict[str, Rule]] = {
        **COMMON_RULES,
        "filters": POSITIVE_INT,
        "depth": Number(integer=True, min=3, max=5),
        "output_stride": OneOf((2, 4)),
        "sigma": POSITIVE,
        "threshold": FRACTION,
        "loss": OneOf(("bce", "mse")),
    }
