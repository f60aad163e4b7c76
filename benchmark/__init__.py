"""kpbench: a benchmark harness for animal keypoint (pose) estimation frameworks."""

__version__ = "0.1.0"
