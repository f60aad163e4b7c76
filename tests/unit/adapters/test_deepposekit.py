"""The DeepPoseKit adapter's pieces that need no TensorFlow: its skeleton columns, notes and
network input size."""

from __future__ import annotations

from pathlib import Path

from adapters.deepposekit.adapter import (
    DeepPoseKitAdapter,
    fit_layout,
    mirroring_note,
    skeleton_columns,
)
from benchmark.dataset import Skeleton
from tests.fixtures import mixed_size_blobs

EDGES = [("snout", "left_ear"), ("snout", "right_ear"), ("snout", "tail")]


def test_swap_index_holds_the_harness_pairs() -> None:
    sk = Skeleton.from_names(["snout", "left_ear", "right_ear", "tail"], EDGES)
    parents, swaps = skeleton_columns(sk)
    assert parents.tolist() == [-1, 0, 0, 0]
    assert swaps.tolist() == [-1, 2, 1, -1]
    assert mirroring_note(sk) == "off: no augmenter (swap index: left_ear<->right_ear (from names))"


def test_declared_pairs_win_and_a_side_without_a_partner_swaps_nothing() -> None:
    declared = Skeleton.from_names(["snout", "a", "b", "tail"], [], [("a", "b")])
    assert skeleton_columns(declared)[1].tolist() == [-1, 2, 1, -1]
    names = ["snout", "left_ear", "right_ear", "tailL"]
    lone = Skeleton.from_names(names, [("snout", "left_ear")])
    assert skeleton_columns(lone)[1].tolist() == [-1, -1, -1, -1]
    assert mirroring_note(lone) == (
        "off: no augmenter (swap index: none (keypoint 'tailL' marks a side but has no partner))"
    )


def test_max_size_is_raised_where_small_close_keypoints_need_it(tmp_path: Path) -> None:
    """Discs 5-6 px apart on frames of two sizes (longest side 320): 160 px would show them
    about 3 px apart, so the shared rule raises the input to its bound, twice the scale."""
    mixed = mixed_size_blobs(tmp_path, (320, 240), (240, 320), n_frames=4)
    config = DeepPoseKitAdapter.resolve_config({})
    layout, resolution = fit_layout(mixed, config)
    assert resolution is not None and resolution.base == 0.5 and resolution.scale == 1.0
    assert (layout.max_size, layout.width, layout.height) == (320, 320, 320)
    kept, none = fit_layout(mixed, {**config, "resolution_from_data": False})
    assert none is None and (kept.max_size, kept.width, kept.height) == (160, 160, 160)
