"""The input-resolution rule (benchmark.resolution) on constructed labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.dataset import Dataset, Skeleton
from benchmark.resolution import MAX_RAISE, input_resolution, label_geometry


def labels(points: list[list[tuple[float, float]]]) -> Dataset:
    """A dataset of ``len(points)`` frames whose keypoints sit at the given points (no
    images: the rule reads only the labels)."""
    k = len(points[0])
    names = [f"kp{i}" for i in range(k)]
    return Dataset(
        name="constructed",
        skeleton=Skeleton.from_names(names),
        frame_ids=tuple(f"f{i}" for i in range(len(points))),
        image_paths=tuple(Path(f"f{i}.png") for i in range(len(points))),
        points=np.array(points, dtype=float),
    )


def mouse_like(offset: float = 0.0) -> list[tuple[float, float]]:
    """Snout, two ears 13 px apart, tail base about 110 px behind: the carried mouse's scale."""
    return [
        (300 + offset, 200),
        (290 + offset, 213),
        (303 + offset, 213),
        (300 + offset, 310),
    ]


def paws(gap: float) -> list[tuple[float, float]]:
    """Four paws ``gap`` px apart on a 60 px animal."""
    return [(100, 100), (100 + gap, 100), (100, 160), (100 + gap, 160)]


def test_geometry_is_the_median_nearest_neighbour_and_box() -> None:
    separation, size = label_geometry(labels([paws(4.0), paws(6.0), paws(8.0)]))
    assert separation == pytest.approx(6.0)
    assert size == pytest.approx(60.0)


def test_mouse_scale_is_left_as_the_profile_has_it() -> None:
    ds = labels([mouse_like(0), mouse_like(20), mouse_like(-15)])
    for base in (0.25, 0.5):
        res = input_resolution(ds, base)
        assert res.scale == base and not res.raised
        assert res.needed is not None and res.needed < 0.25
        assert "no more" in res.note()


def test_close_keypoints_raise_the_scale_within_the_cost_bound() -> None:
    res = input_resolution(labels([paws(5.0)] * 3), 0.5)
    assert res.needed == pytest.approx(3.0 / 5.0)
    assert res.scale == pytest.approx(0.6) and res.raised
    assert "raised from 0.5 to 0.6" in res.note() and "capped" not in res.note()

    capped = input_resolution(labels([paws(4.0)] * 3), 0.25)
    assert capped.needed == pytest.approx(0.75)
    assert capped.scale == pytest.approx(MAX_RAISE * 0.25)
    assert "capped" in capped.note()


def test_frames_are_never_enlarged() -> None:
    res = input_resolution(labels([paws(2.0)] * 2), 1.0)
    assert res.needed == pytest.approx(1.5)
    assert res.scale == 1.0 and not res.raised
    assert "never enlarged" in res.note()
    # A profile that already enlarges (scale > 1) keeps its own scale.
    assert input_resolution(labels([paws(2.0)] * 2), 2.0).scale == 2.0


def test_a_scale_within_the_margin_is_kept() -> None:
    # Needs 3 / 11.5 = 0.26: under 10% above a quarter, not worth the extra pixels.
    long_animal = [(100.0, 100.0), (111.5, 100.0), (100.0, 300.0), (111.5, 300.0)]
    res = input_resolution(labels([long_animal] * 2), 0.25)
    assert res.needed == pytest.approx(0.26, abs=0.001)
    assert res.scale == 0.25 and not res.raised
    assert "within 10% of it, kept" in res.note()


def test_a_small_animal_raises_the_scale_too() -> None:
    # Keypoints far apart relative to the minimum, but the animal only 40 px across.
    tiny = [(10.0, 10.0), (30.0, 10.0), (10.0, 50.0)]
    res = input_resolution(labels([tiny] * 2), 0.25)
    assert res.needed == pytest.approx(24.0 / 40.0)
    assert res.scale == pytest.approx(0.5)


def test_unlabelled_points_are_ignored_and_too_few_labels_keep_the_base() -> None:
    nan = (float("nan"), float("nan"))
    one_each = labels([[(5.0, 5.0), nan], [nan, (9.0, 9.0)]])
    res = input_resolution(one_each, 0.5)
    assert res.scale == 0.5 and res.needed is None
    assert "too few labelled keypoints" in res.note()

    partly = labels([[*paws(5.0)[:3], nan]] * 2)
    assert label_geometry(partly)[0] == pytest.approx(5.0)
