"""Our fast heatmap network (light UNet with sub-pixel peak refinement)."""

from adapters.heatmap_cnn.adapter import HeatmapAdapter

__all__ = ["HeatmapAdapter"]
