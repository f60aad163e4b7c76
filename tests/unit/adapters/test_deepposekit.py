"""The DeepPoseKit adapter's pieces that need no TensorFlow: its skeleton columns and notes."""

from __future__ import annotations

from adapters.deepposekit.adapter import mirroring_note, skeleton_columns
from benchmark.dataset import Skeleton

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
