"""Tiny generated datasets for tests (no files from outside the repo)."""

from benchmark.synthetic.blobs import COLORS, EDGES, KEYPOINTS, make_blob_dataset

__all__ = ["COLORS", "EDGES", "KEYPOINTS", "make_blob_dataset"]
