"""Small encoder-decoder predicting one heatmap per keypoint, with sub-pixel peaks.

A light encoder-decoder: four stride-2 stages (to 1/16 of the input) and a decoder with
skip connections back up to ``output_stride`` (2 or 4). Targets are Gaussians of ``sigma``
network-input pixels at each labelled point, fitted through a sigmoid with per-pixel binary
cross-entropy (as DeepLabCut's score maps; ``loss: mse`` for squared error, as SLEAP);
unlabelled points are left out of the loss.
A peak's position is refined by fitting a parabola to the log heatmap around the argmax
(exact for a Gaussian); its confidence is the peak value. Below ``threshold`` a point is
"not detected" in the network's own-cutoff view, which the harness applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class HeatmapNet(nn.Module):
    """Image ``(B, 3, H, W)`` to heatmaps ``(B, K, H / stride, W / stride)``.

    Encoder: a stride-2 stem and ``depth - 1`` further stride-2 stages (``filters`` channels,
    doubled per stage) down to ``1 / 2**depth``. Decoder (feature-pyramid style, cheap on CPU):
    each encoder map is projected to ``2 * filters`` channels by a 1x1 convolution and added to
    the upsampled coarser map, then smoothed by a 3x3 convolution, up to ``output_stride``.
    """

    def __init__(
        self, n_keypoints: int, filters: int = 16, output_stride: int = 4, depth: int = 4
    ) -> None:
        super().__init__()
        if output_stride not in (2, 4):
            raise ValueError(f"output_stride must be 2 or 4, not {output_stride}")
        if depth < 3:
            raise ValueError(f"depth must be at least 3, not {depth}")
        chans = [filters * 2**i for i in range(depth)]
        stages: list[nn.Module] = [conv_bn(3, chans[0], 2)]  # /2
        for i in range(1, depth):  # /4, /8, ...; the coarsest stage has one more convolution
            n_more = 2 if i == depth - 1 else 1
            more = (conv_bn(chans[i], chans[i]) for _ in range(n_more))
            stages.append(nn.Sequential(conv_bn(chans[i - 1], chans[i], 2), *more))
        self.enc = nn.ModuleList(stages)
        c = 2 * filters
        # The decoder uses the encoder maps from output_stride down (the /2 map only at 2).
        levels = depth - 1 if output_stride == 4 else depth
        used = chans[-levels:]
        self.lateral = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in used)
        self.smooth = nn.ModuleList(conv_bn(c, c) for _ in used[:-1])
        self.head = nn.Conv2d(c, n_keypoints, 1)
        # Start with "no keypoint anywhere" (sigmoid(-4) = 0.02): the background, nearly all
        # of each map, then gives small gradients and training goes straight to the peaks.
        nn.init.constant_(self.head.bias, -4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = []
        for stage in self.enc:
            x = stage(x)
            maps.append(x)
        maps = maps[-len(self.lateral) :]
        y = self.lateral[-1](maps[-1])
        for i in range(len(maps) - 2, -1, -1):
            up = F.interpolate(y, size=maps[i].shape[-2:], mode="bilinear", align_corners=False)
            y = self.smooth[i](up + self.lateral[i](maps[i]))
        return self.head(y)


def build(config: Mapping[str, Any], n_keypoints: int) -> nn.Module:
    """The network for ``config`` (``filters``, ``depth``, ``output_stride``; checked by the
    adapter's ``option_rules``)."""
    return HeatmapNet(
        n_keypoints,
        filters=int(config["filters"]),
        output_stride=int(config["output_stride"]),
        depth=int(config["depth"]),
    )


def _strides(output: torch.Tensor, size: tuple[int, int]) -> tuple[float, float]:
    """Network-input pixels per heatmap pixel, in x and y."""
    return size[0] / output.shape[-1], size[1] / output.shape[-2]


def targets(
    points: torch.Tensor, shape: tuple[int, int], strides: tuple[float, float], sigma: float
) -> torch.Tensor:
    """Gaussian heatmaps ``(B, K, h, w)`` peaking (1.0) at ``points`` (network-input pixels).

    NaN points give NaN maps; callers mask them out.
    """
    h, w = shape
    sx, sy = strides
    # Heatmap pixel centre i covers input pixels around (i + 0.5) * stride - 0.5.
    qx = (points[..., 0] + 0.5) / sx - 0.5
    qy = (points[..., 1] + 0.5) / sy - 0.5
    gx = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    gy = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    dx2 = ((gx - qx[..., None, None]) * sx) ** 2
    dy2 = ((gy - qy[..., None, None]) * sy) ** 2
    return torch.exp(-(dx2 + dy2) / (2 * sigma**2))


def loss(
    output: torch.Tensor, points: torch.Tensor, config: Mapping[str, Any], size: tuple[int, int]
) -> torch.Tensor:
    """Squared error summed over each heatmap, averaged over labelled keypoints."""
    target = targets(points, output.shape[-2:], _strides(output, size), float(config["sigma"]))
    mask = torch.isfinite(points).all(dim=-1)
    if not mask.any():
        return output.sum() * 0.0
    if config["loss"] == "mse":
        return ((torch.sigmoid(output[mask]) - target[mask]) ** 2).sum(dim=(-2, -1)).mean()
    bce = F.binary_cross_entropy_with_logits(output[mask], target[mask], reduction="none")
    return bce.sum(dim=(-2, -1)).mean()


def decode(output: torch.Tensor, config: Mapping[str, Any], size: tuple[int, int]) -> np.ndarray:
    """Heatmaps to ``(B, K, 3)``: refined peak x, y (network-input pixels) and peak value.

    The score is the peak clipped to [0, 1]. Every keypoint gets a location, however low its
    peak: ``threshold`` is the predictor's ``score_cutoff``, applied by the harness.
    """
    hm = torch.sigmoid(output.float())
    b, k, h, w = hm.shape
    peak, idx = hm.reshape(b, k, -1).max(dim=-1)
    iy, ix = idx // w, idx % w
    padded = F.pad(hm, (1, 1, 1, 1), mode="replicate").reshape(b, k, -1)

    def log_at(dy: int, dx: int) -> torch.Tensor:
        flat = (iy + 1 + dy) * (w + 2) + (ix + 1 + dx)
        return torch.log(padded.gather(-1, flat.unsqueeze(-1)).squeeze(-1).clamp_min(1e-6))

    def vertex(before: torch.Tensor, centre: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        # Parabola through (-1, before), (0, centre), (1, after): offset of its maximum.
        curve = before - 2 * centre + after
        safe = torch.where(curve < -1e-6, curve, torch.full_like(curve, -1.0))
        offset = torch.where(curve < -1e-6, 0.5 * (before - after) / safe, torch.zeros_like(curve))
        return offset.clamp(-0.5, 0.5)

    centre = log_at(0, 0)
    dx = vertex(log_at(0, -1), centre, log_at(0, 1))
    dy = vertex(log_at(-1, 0), centre, log_at(1, 0))
    # At the border a replicated neighbour is no information: keep the integer position.
    dx = torch.where((ix == 0) | (ix == w - 1), torch.zeros_like(dx), dx)
    dy = torch.where((iy == 0) | (iy == h - 1), torch.zeros_like(dy), dy)
    sx, sy = _strides(output, size)
    x = (ix.float() + dx + 0.5) * sx - 0.5
    y = (iy.float() + dy + 0.5) * sy - 0.5
    score = peak.clamp(0.0, 1.0)
    return torch.stack([x, y, score], dim=-1).numpy().astype(np.float64)
