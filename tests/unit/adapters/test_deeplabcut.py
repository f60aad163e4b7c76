"""The DeepLabCut adapter's horizontal flip: off, or with the harness's left/right pairs."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.deeplabcut.adapter import hflip_setting
from benchmark.dataset import Skeleton

EARS = Skeleton(("snout", "left_ear", "right_ear", "tail_base"))
LONE = Skeleton(("snout", "left_ear", "right_ear", "tailL"))


@pytest.mark.parametrize("hflip", [None, False])
def test_no_flip_stays_no_flip(hflip) -> None:
    assert hflip_setting(hflip, EARS) == (hflip, "off: DeepLabCut's hflip is off")


@pytest.mark.parametrize(
    ("hflip", "prob"), [(True, 0.5), (0.3, 0.3), ({"p": 0.8, "symmetries": [[0, 3]]}, 0.8)]
)
def test_a_flip_asked_for_uses_the_harness_pairs(hflip, prob) -> None:
    safe, note = hflip_setting(hflip, EARS)
    assert safe == {"p": prob, "symmetries": [[1, 2]]}
    assert note == "on: left_ear<->right_ear (from names)"


def test_a_flip_asked_for_is_turned_off_when_nothing_may_mirror() -> None:
    assert hflip_setting(True, LONE) == (
        False,
        "off: keypoint 'tailL' marks a side but has no partner",
    )


def test_deeplabcuts_own_transform_swaps_the_pairs_it_is_given() -> None:
    transforms = pytest.importorskip("deeplabcut.pose_estimation_pytorch.data.transforms")
    safe, _ = hflip_setting({"p": 1.0}, EARS)
    compose = transforms.build_transforms({"hflip": safe})
    points = [(10.0, 5.0), (20.0, 6.0), (40.0, 7.0), (30.0, 8.0)]
    out = compose(
        image=np.zeros((48, 64, 3), np.uint8),
        keypoints=points,
        class_labels=list(EARS.keypoints),
        bboxes=[],
        bbox_labels=[],
    )
    # x' = W - 1 - x, and the left ear's label now sits on the mirrored right ear.
    assert [tuple(p) for p in out["keypoints"]] == [
        (53.0, 5.0),
        (23.0, 7.0),
        (43.0, 6.0),
        (33.0, 8.0),
    ]
    off = transforms.build_transforms({"hflip": hflip_setting(True, LONE)[0]})
    assert len(off.transforms) == 0
