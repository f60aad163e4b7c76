"""How much input resolution the data needs: one rule for every adapter that scales frames down.

A CPU profile scales frames down to save time (our networks to half size, SLEAP to a
quarter, DeepPoseKit to 160 px). That suits large keypoints far apart, such as the carried
mouse's, but on small parts close together (paws, digits) the network may no longer tell
neighbouring keypoints apart. The rule, the same for every adapter it applies to:

1. From the training frames' labels (original pixels): the keypoints' **separation**, the
   median over every labelled keypoint of every frame of its distance to the nearest other
   labelled keypoint of that frame; and the **animal size**, the median over frames of the
   larger side of the box around the frame's labelled keypoints.
2. The scale the data needs puts neighbouring keypoints :data:`MIN_SEPARATION_PX` apart and
   the animal :data:`MIN_ANIMAL_PX` across at the network input:
   ``needed = max(MIN_SEPARATION_PX / separation, MIN_ANIMAL_PX / size)``.
3. The profile's scale is raised to ``needed`` when that is more than :data:`MARGIN` larger
   (a few per cent more pixels would cost time for nothing), never above :data:`MAX_RAISE`
   times the profile's scale (the cost bound: at most 4x the pixels per frame) nor above 1
   (frames are never enlarged). It is never lowered.

Both minimums are where every framework still localises the carried mouse's keypoints
(its ears are about 13 px apart and the mouse about 110 px long; at quarter resolution,
SLEAP's and DeepPoseKit's CPU profiles, that is 3.3 px and 28 px), so the rule leaves the
mouse as it is and raises the resolution only for smaller or closer keypoints.
DeepLabCut trains on crops at the frames' own resolution, so the rule has nothing to raise
there. An adapter applies the rule unless told ``resolution_from_data: false`` (then the
profile's scale is used as given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.dataset import Dataset

#: Neighbouring keypoints at least this far apart at the network input (pixels).
MIN_SEPARATION_PX = 3.0
#: The animal (its labelled keypoints' box) at least this large at the network input (pixels).
MIN_ANIMAL_PX = 24.0
#: The rule raises a profile's scale by at most this factor (4x the pixels per frame).
MAX_RAISE = 2.0
#: A scale the data needs is used only when it exceeds the profile's by more than this factor.
MARGIN = 1.1


@dataclass(frozen=True)
class Resolution:
    """The rule's answer for one training set.

    Attributes:
        base: The profile's scale (network-input pixels per original pixel).
        scale: The scale to train with: ``base`` raised to what the data needs, bounded.
        needed: The scale the data needs (None: too few labels to say).
        separation_px: The keypoints' typical separation in original pixels (None: unknown).
        animal_px: The animal's typical size in original pixels (None: unknown).
    """

    base: float
    scale: float
    needed: float | None
    separation_px: float | None
    animal_px: float | None

    @property
    def raised(self) -> bool:
        """Whether the rule raised the profile's scale."""
        return self.scale > self.base

    def note(self) -> str:
        """One line for the job's notes: what the data needs and what was used."""
        if self.needed is None:
            return f"input scale {self.base:g} (too few labelled keypoints to derive one)"
        measured = (
            f"keypoints {self.separation_px:.1f} px apart, animal {self.animal_px:.0f} px"
            f" across: needs scale {self.needed:.2f}"
        )
        if not self.raised:
            if self.needed <= self.base:
                why = "no more"
            elif self.base >= 1:
                why = "frames are never enlarged"
            else:
                why = f"within {MARGIN - 1:.0%} of it, kept"
            return f"input scale {self.base:g} ({measured}; {why})"
        capped = self.scale < self.needed
        bound = " (capped: at most 2x the profile's scale and 1)" if capped else ""
        return f"input scale raised from {self.base:g} to {self.scale:.3g} ({measured}){bound}"


def label_geometry(dataset: Dataset) -> tuple[float | None, float | None]:
    """The keypoints' typical separation and the animal's typical size, in original pixels.

    Returns:
        ``(separation, size)`` as defined in the module docstring; None for either when no
        frame has two labelled keypoints (or they coincide).
    """
    nearest: list[np.ndarray] = []
    sizes: list[float] = []
    for frame in dataset.points:
        pts = frame[~np.isnan(frame).any(axis=1)]
        if len(pts) < 2:
            continue
        dist = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=-1)
        np.fill_diagonal(dist, np.inf)
        nearest.append(dist.min(axis=1))
        sizes.append(float((pts.max(axis=0) - pts.min(axis=0)).max()))
    if not nearest:
        return None, None
    separation = float(np.median(np.concatenate(nearest)))
    size = float(np.median(sizes))
    return (separation if separation > 0 else None), (size if size > 0 else None)


def input_resolution(dataset: Dataset, base: float) -> Resolution:
    """The scale to train ``dataset`` with, given a profile's scale ``base`` (module rule).

    Args:
        dataset: The training frames.
        base: The profile's scale, network-input pixels per original pixel (> 0).
    """
    separation, size = label_geometry(dataset)
    if separation is None or size is None:
        return Resolution(base, base, None, separation, size)
    needed = max(MIN_SEPARATION_PX / separation, MIN_ANIMAL_PX / size)
    scale = base if needed <= MARGIN * base else max(base, min(needed, MAX_RAISE * base, 1.0))
    return Resolution(base, scale, needed, separation, size)
