"""Ultralytics YOLO pose, in its own environment (``kpbench env create yolo``)."""
