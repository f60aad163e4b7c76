"""TrackRat-style coordinate regression CNN (kpbench's baseline)."""

from adapters.trackrat_cnn.adapter import TrackRatAdapter

__all__ = ["TrackRatAdapter"]
