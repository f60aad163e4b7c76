"""TrackRat-style coordinate regression network, extended to K keypoints.

TrackRat regresses the nose position directly from the image with a small CNN. Ours keeps
that idea (conv stem, residual blocks, pooling, fully connected layers, MSE on normalised
coordinates) and predicts K points; a visibility mask drops unlabelled points from the loss.
It has no visibility head, so every point is always "detected" with score 1.0.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn


class ResBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.skip = (
            nn.Identity()
            if cin == cout and stride == 1
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class TrackRatNet(nn.Module):
    """Image ``(B, 3, H, W)`` to coordinates ``(B, K, 2)`` in [-1, 1] of the input's extent.

    A stride-4 stem (convolution and max pool) with ``filters`` channels, one residual block,
    then ``depth`` stride-2 residual blocks that double the channels each, a 4x4 average grid
    and the fully connected head.
    """

    def __init__(
        self,
        n_keypoints: int,
        filters: int = 32,
        fc_units: int = 256,
        dropout: float = 0.1,
        depth: int = 3,
    ) -> None:
        super().__init__()
        self.n_keypoints = n_keypoints
        chans = [filters * 2**i for i in range(depth + 1)]
        self.features = nn.Sequential(
            nn.Conv2d(3, filters, 5, 2, 2, bias=False),  # stem: /2
            nn.BatchNorm2d(filters),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # /4
            ResBlock(filters, filters),
            *(ResBlock(cin, cout, 2) for cin, cout in itertools.pairwise(chans)),  # /8, /16, ...
            # A coarse grid, not a global average, so the head still knows where things are.
            nn.AdaptiveAvgPool2d((4, 4)),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(chans[-1] * 16, fc_units),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(fc_units, 2 * n_keypoints),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1, self.n_keypoints, 2)


def build(config: Mapping[str, Any], n_keypoints: int) -> nn.Module:
    """The network for ``config`` (``filters``, ``depth``, ``fc_units``, ``dropout``)."""
    return TrackRatNet(
        n_keypoints,
        filters=int(config["filters"]),
        fc_units=int(config["fc_units"]),
        dropout=float(config["dropout"]),
        depth=int(config["depth"]),
    )


def _unit_scale(size: tuple[int, int]) -> torch.Tensor:
    w, h = size
    return torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=torch.float32)


def loss(
    output: torch.Tensor, points: torch.Tensor, config: Mapping[str, Any], size: tuple[int, int]
) -> torch.Tensor:
    """MSE between predicted and labelled normalised coordinates, labelled points only."""
    half = _unit_scale(size)
    target = points / half - 1.0
    mask = torch.isfinite(target).all(dim=-1)
    if not mask.any():
        return output.sum() * 0.0
    return ((output[mask] - target[mask]) ** 2).sum(dim=-1).mean()


def decode(output: torch.Tensor, config: Mapping[str, Any], size: tuple[int, int]) -> np.ndarray:
    """Network output to ``(B, K, 3)``: x, y in network-input pixels and score 1.0."""
    xy = (output.float() + 1.0) * _unit_scale(size)
    score = torch.ones((*xy.shape[:-1], 1))
    return torch.cat([xy, score], dim=-1).numpy()
