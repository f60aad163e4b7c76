"""Per-frame ground truth of a video (``<stem>_groundtruth.csv``) and accuracy against it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.io.predictions import read_predictions
from benchmark.paths import atomic_path

GT_SUFFIX = "_groundtruth.csv"
FRAME_ERRORS = "frame_errors.csv"


def ground_truth_path(video: Path) -> Path | None:
    """``<stem>_groundtruth.csv`` beside the video, when it exists."""
    path = video.with_name(video.stem + GT_SUFFIX)
    return path if path.is_file() else None


def video_ground_truth(path: Path, keypoints: Sequence[str], n: int) -> np.ndarray | None:
    """``(n, k, 2)`` ground truth per video frame (NaN = hidden), or None if it does not fit."""
    gt = read_predictions(path)
    index = {name: j for j, name in enumerate(gt.keypoints)}
    if any(name not in index for name in keypoints):
        return None
    try:
        rows = [int(float(f)) for f in gt.frame_ids]
    except ValueError:
        return None
    out = np.full((n, len(keypoints), 2), np.nan)
    cols = [index[name] for name in keypoints]
    for row, frame in enumerate(rows):
        if 0 <= frame < n:
            out[frame] = gt.values[row, cols, :2]
    return out


def accuracy(
    gt: np.ndarray, pred: np.ndarray, keypoints: Sequence[str], thresholds: Sequence[float]
) -> dict:
    """Metrics over every video frame, as ``kpbench evaluate`` computes them (no CI), with
    the run's PCK ``thresholds``."""
    from benchmark.metrics import summarize

    return summarize(gt, pred, keypoints, thresholds=thresholds, n_boot=0)


def write_frame_errors(path: Path, err: np.ndarray, keypoints: Sequence[str]) -> None:
    import pandas as pd

    n, k = err.shape
    table = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(n), k),
            "keypoint": np.tile(np.asarray(keypoints, dtype=object), n),
            "error_px": err.reshape(-1),
        }
    )
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
