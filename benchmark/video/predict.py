"""Feeding video frames to a predictor: in memory, as PNG files, or its own video reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from adapters.base import ImagePredictor
from benchmark.dataset import Dataset, Skeleton

#: Score below which points are drawn hollow when the predictor names no cutoff of its own.
DEFAULT_MIN_SCORE = 0.5

FramePredictor = Callable[[Sequence[np.ndarray]], np.ndarray]


def frame_predictor(predictor: Any, skeleton: Skeleton, scratch: Path) -> FramePredictor:
    """A function from RGB frames to ``(n, k, 3)`` predictions in ``skeleton`` order.

    Uses the predictor's ``predict_images`` (frames in memory) when it has one; otherwise
    writes each chunk as PNG files into ``scratch`` and calls the predictor on them as a
    :class:`Dataset` (every adapter can do that).
    """
    k = len(skeleton.keypoints)
    if isinstance(predictor, ImagePredictor):
        return lambda images: _checked(predictor.predict_images(images), len(images), k)

    def via_files(images: Sequence[np.ndarray]) -> np.ndarray:
        names = [f"frame{i:06d}.png" for i in range(len(images))]
        for name, image in zip(names, images, strict=True):
            Image.fromarray(np.asarray(image)).save(scratch / name, compress_level=1)
        frames = Dataset(
            name="video",
            skeleton=skeleton,
            frame_ids=tuple(names),
            image_paths=tuple(scratch / n for n in names),
            points=np.full((len(names), k, 2), np.nan),
            format="video",
        )
        return _checked(predictor(frames), len(images), k)

    return via_files


def _checked(pred: np.ndarray, n: int | None, k: int) -> np.ndarray:
    """``pred`` as float64 ``(n, k, 3)`` with x, y NaN unless both are finite."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[1:] != (k, 3) or (n is not None and len(pred) != n):
        expected = f"({n if n is not None else 'n'}, {k}, 3)"
        raise ValueError(f"the predictor returned shape {pred.shape}, expected {expected}")
    pred[~np.isfinite(pred[..., :2]).all(axis=-1), :2] = np.nan
    return pred


class Rows:
    """Takes predictions row by row from a stream of ``(m, k, 3)`` blocks (any sizes)."""

    def __init__(self, blocks: Iterator[np.ndarray], k: int) -> None:
        self._blocks = blocks
        self._k = k
        self._buffer = np.empty((0, k, 3))
        self.padded = 0  # rows the stream did not have (NaN)

    def take(self, m: int) -> np.ndarray:
        """The next ``m`` rows; NaN rows once the stream has ended."""
        while len(self._buffer) < m:
            block = next(self._blocks, None)
            if block is None:
                pad = np.full((m - len(self._buffer), self._k, 3), np.nan)
                self.padded += len(pad)
                self._buffer = np.concatenate([self._buffer, pad])
                break
            self._buffer = np.concatenate([self._buffer, _checked(block, None, self._k)])
        rows, self._buffer = self._buffer[:m], self._buffer[m:]
        return rows

    def left_over(self) -> int:
        """Rows the stream has beyond those taken (reads it to the end)."""
        return len(self._buffer) + sum(len(b) for b in self._blocks)


def score_cutoff(predictor: Any) -> float:
    """The predictor's own low-confidence cutoff (e.g. DeepLabCut's ``pcutoff``), else 0.5."""
    value = getattr(predictor, "score_cutoff", None)
    return float(value) if value is not None else DEFAULT_MIN_SCORE
