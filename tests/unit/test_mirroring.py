"""Left/right pairs: the name rule, its safety rule, declared pairs, and what a mirror does."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.dataset import Skeleton
from benchmark.mirroring import check_pairs, mirroring, name_mirroring, split_name


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("foreLegR2", ["fore", "leg", "r", "2"]),
        ("L_Eye", ["l", "eye"]),
        ("pawFL", ["paw", "fl"]),
        ("FL_paw", ["fl", "paw"]),
        ("left-hind-paw", ["left", "hind", "paw"]),
        ("LeftEar", ["left", "ear"]),
        ("ear.l", ["ear", "l"]),
        ("Left Ear", ["left", "ear"]),
        ("wingL", ["wing", "l"]),
        ("forelegR1", ["foreleg", "r", "1"]),
        ("tail_base", ["tail", "base"]),
        ("Lforepaw", ["lforepaw"]),
    ],
)
def test_names_split_into_tokens(name: str, tokens: list[str]) -> None:
    assert split_name(name) == tokens


#: Naming styles seen in real data, with the pairs the rule must find (left name first).
PAIRED = [
    # DeepLabCut model zoo and COCO
    (["nose", "left_ear", "right_ear"], [("left_ear", "right_ear")]),
    (["snout", "leftear", "rightear", "tailbase"], [("leftear", "rightear")]),
    (
        ["nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip"],
        [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")],
    ),
    (
        ["front_left_paw", "front_right_paw", "back_left_paw", "back_right_paw"],
        [("front_left_paw", "front_right_paw"), ("back_left_paw", "back_right_paw")],
    ),
    (["right_earbase", "left_earbase", "neck"], [("left_earbase", "right_earbase")]),
    # SLEAP fly and mouse skeletons
    (["head", "thorax", "wingL", "wingR"], [("wingL", "wingR")]),
    (
        ["forelegL1", "forelegR1", "midlegL2", "midlegR2"],
        [("forelegL1", "forelegR1"), ("midlegL2", "midlegR2")],
    ),
    (["eyeL", "eyeR", "head"], [("eyeL", "eyeR")]),
    (["L_Eye", "R_Eye", "Nose"], [("L_Eye", "R_Eye")]),
    (
        ["Lforepaw", "Rforepaw", "Lhindpaw", "Rhindpaw", "Snout"],
        [("Lforepaw", "Rforepaw"), ("Lhindpaw", "Rhindpaw")],
    ),
    (["lforepaw", "rforepaw", "nose"], [("lforepaw", "rforepaw")]),
    (["paw_FL", "paw_FR", "paw_HL", "paw_HR"], [("paw_FL", "paw_FR"), ("paw_HL", "paw_HR")]),
    (["FL_paw", "FR_paw", "HL_paw", "HR_paw"], [("FL_paw", "FR_paw"), ("HL_paw", "HR_paw")]),
    (["pawFL", "pawFR", "nose"], [("pawFL", "pawFR")]),
    (["LF", "RF", "LM", "RM", "LH", "RH"], [("LF", "RF"), ("LM", "RM"), ("LH", "RH")]),
    (["FL", "FR", "RL", "RR"], [("FL", "FR"), ("RL", "RR")]),
    (["left-hind-paw", "right-hind-paw", "tail"], [("left-hind-paw", "right-hind-paw")]),
    (["LeftEar", "RightEar", "Nose"], [("LeftEar", "RightEar")]),
    (["ear.l", "ear.r", "spine"], [("ear.l", "ear.r")]),
    (["Ear_L", "Ear_R", "Tail_Base"], [("Ear_L", "Ear_R")]),
    (["l_ear", "r_ear"], [("l_ear", "r_ear")]),
    (["Left Ear", "Right Ear"], [("Left Ear", "Right Ear")]),
    (["lt_eye", "rt_eye"], [("lt_eye", "rt_eye")]),
    (["L1", "R1", "L2", "R2"], [("L1", "R1"), ("L2", "R2")]),
    (["frontLeftPaw", "frontRightPaw"], [("frontLeftPaw", "frontRightPaw")]),
    (["earleft", "earright"], [("earleft", "earright")]),
    (["left_ear", "RightEar"], [("left_ear", "RightEar")]),  # styles mixed: same tokens
]


@pytest.mark.parametrize(("names", "pairs"), PAIRED)
def test_the_name_rule_pairs_real_naming_styles(
    names: list[str], pairs: list[tuple[str, str]]
) -> None:
    found = name_mirroring(names)
    assert found.on, found.reason
    assert [(names[a], names[b]) for a, b in found.pairs] == sorted(
        pairs, key=lambda p: names.index(p[0])
    )


#: Names that must not pair; each of these switches mirroring off, with the keypoint named.
OFF = [
    (["tail_base", "tail_tip", "nose"], "no keypoint name marks"),
    (["lateral", "rostral", "dorsal"], "no keypoint name marks"),
    (["front_left_paw", "back_right_paw"], "'front_left_paw' marks a side but has no partner"),
    (["ear_left", "eye_right"], "'ear_left' marks a side but has no partner"),
    (["C7", "T1", "L1", "L2"], "'L1' marks a side but has no partner"),  # vertebrae
    (["nose", "eyeL", "eyeR", "tailL"], "'tailL' marks a side but has no partner"),
    (["Lforepaw", "Rforepaw", "Lhindpaw"], "'Lhindpaw' marks a side"),
    (["Lforepaw", "Rforepaw", "Rump"], "'Rump' marks a side"),  # that style is in use
    (["LL", "RL"], "'RL' marks a side"),  # left/right leg? rear left? not read
    (["left_ear", "LeftEar", "right_ear"], "'right_ear' marks a side but matches several"),
    (["wingL", "wingR", "legL1", "legR2"], "'legL1' marks a side"),
    (["left_ear", "right_eye"], "'left_ear' marks a side"),
]


@pytest.mark.parametrize(("names", "why"), OFF)
def test_unsafe_or_unreadable_names_switch_mirroring_off(names: list[str], why: str) -> None:
    found = name_mirroring(names)
    assert found.pairs == ()
    assert why in found.reason


def test_words_that_merely_start_with_l_or_r_do_not_mark_a_side() -> None:
    names = ["nose", "left_eye", "right_eye", "lateral_line", "Rump", "lumbar"]
    assert [(names[a], names[b]) for a, b in name_mirroring(names).pairs] == [
        ("left_eye", "right_eye")
    ]


def test_declared_pairs_are_trusted_and_an_empty_declaration_never_mirrors() -> None:
    names = ("a", "b", "tailL")  # names the rule cannot read, a lone side it would refuse
    assert mirroring(names, ((0, 1),)).pairs == ((0, 1),)
    off = mirroring(names, ())
    assert off.pairs == () and "declares no left/right pairs" in off.reason
    assert mirroring(names, None).pairs == ()


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        ([(0, 0)], "'a' with itself"),
        ([(0, 1), (1, 2)], "'b' is in two left/right pairs"),
        ([(0, 3)], "outside 0..2"),
        ([(0, 1, 2)], "must be two keypoints"),
    ],
)
def test_bad_declared_pairs_are_refused(pairs: list, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_pairs(pairs, ("a", "b", "c"))


def test_skeleton_carries_declared_pairs_and_stays_backward_compatible() -> None:
    plain = Skeleton(("nose", "left_ear", "right_ear"), ((0, 1),))
    assert plain.symmetries is None
    assert plain.flip_pairs() == [(1, 2)]
    declared = Skeleton.from_names(["eyeA", "eyeB", "nose"], [], [("eyeA", "eyeB")])
    assert declared.symmetries == ((0, 1),)
    assert declared.flip_pairs() == [(0, 1)]
    assert Skeleton(("left_ear", "right_ear"), (), ()).flip_pairs() == []
    with pytest.raises(ValueError, match="'nose', which is not a keypoint"):
        Skeleton.from_names(["a", "b"], [], [("a", "nose")])
    with pytest.raises(ValueError, match="in two left/right pairs"):
        Skeleton(("a", "b", "c"), (), ((0, 1), (2, 0)))


# ----- what a mirror does to an animal -----
NAMES = ("nose", "eyeL", "eyeR", "pawFL", "pawFR", "paw_HL", "paw_HR", "tail_base")
# Each keypoint's place in the animal's frame: (forward, to the animal's left).
BODY = {
    "nose": (12.0, 0.0),
    "eyeL": (8.0, 3.0),
    "eyeR": (8.0, -3.0),
    "pawFL": (4.0, 6.0),
    "pawFR": (4.0, -6.0),
    "paw_HL": (-6.0, 7.0),
    "paw_HR": (-6.0, -7.0),
    "tail_base": (-10.0, 0.0),
}


def pose(centre: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """Image points of an animal at ``centre`` facing ``heading``, seen from above.

    Image x runs right and y down, so the animal's left is ``heading`` turned a quarter
    to the left on screen: ``(hy, -hx)`` (facing up, its left is the image's left).
    """
    left = np.array([heading[1], -heading[0]])
    return np.array([centre + f * heading + s * left for f, s in (BODY[n] for n in NAMES)])


def test_mirroring_with_the_found_pairs_puts_every_label_on_its_own_body_part() -> None:
    width = 200
    pairs = Skeleton(NAMES).flip_pairs()
    assert len(pairs) == 3
    perm = np.arange(len(NAMES))
    for i, j in pairs:
        perm[i], perm[j] = j, i
    rng = np.random.default_rng(0)
    for _ in range(20):
        centre = rng.uniform(30, 170, 2)
        angle = rng.uniform(0, 2 * np.pi)
        heading = np.array([np.cos(angle), np.sin(angle)])
        points = pose(centre, heading)
        # The mirrored frame shows the same animal at the mirrored place, facing the
        # mirrored way; x' = W - 1 - x as in adapters/torch_common/engine.augment.
        flip = np.array([-1.0, 1.0])
        truth = pose(np.array([width - 1 - centre[0], centre[1]]), heading * flip)
        mirrored = points.copy()
        mirrored[:, 0] = width - 1 - mirrored[:, 0]
        np.testing.assert_allclose(mirrored[perm], truth, atol=1e-9)
        wrong = np.linalg.norm(mirrored - truth, axis=1)  # labels not swapped
        assert (wrong[[i for pair in pairs for i in pair]] > 5).all()


def test_the_description_names_the_pairs_or_why_not() -> None:
    names = ("nose", "eyeL", "eyeR")
    assert Skeleton(names).mirroring().describe(names) == "eyeL<->eyeR (from names)"
    assert Skeleton(names, (), ((2, 1),)).mirroring().note(names) == "on: eyeR<->eyeL (declared)"
    lone = Skeleton(("nose", "eyeL")).mirroring()
    assert lone.note(("nose", "eyeL")) == "off: keypoint 'eyeL' marks a side but has no partner"
