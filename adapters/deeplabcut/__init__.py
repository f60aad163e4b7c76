"""DeepLabCut 3 (PyTorch engine) adapter; DeepLabCut itself is imported only when used."""

from adapters.deeplabcut.adapter import DeepLabCutAdapter

__all__ = ["DeepLabCutAdapter"]
