"""Micro-benchmarks of kpbench's own networks (``python -m benchmark.perf.cnn``)."""
