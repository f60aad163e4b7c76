"""Drawing on video frames: the keypoint legend beside a labelled still."""

from __future__ import annotations

import numpy as np

from benchmark.video.draw import draw_pose, keypoint_colors, with_legend

NAMES = ["snout", "left_ear", "right_ear", "neck", "tail_base"]


def _has_color(img: np.ndarray, color: tuple[int, int, int]) -> bool:
    return bool((img == np.array(color, np.uint8)).all(axis=-1).any())


def test_legend_sits_beside_the_frame_with_every_keypoint_colour() -> None:
    frame = np.full((120, 160, 3), 90, np.uint8)
    colors = keypoint_colors(len(NAMES))
    pose = np.array([[20 + 25 * j, 60, 0.9] for j in range(len(NAMES))], dtype=float)
    labelled = draw_pose(frame, pose, [(0, 1)], colors, min_score=0.5, text="a  frame 0")
    out = with_legend(labelled, NAMES, colors, min_score=0.5)
    assert out.dtype == np.uint8 and out.shape[0] == 120 and out.shape[1] > 160 + 40
    np.testing.assert_array_equal(out[:, :160], labelled)  # the frame itself is not covered
    legend = out[:, 160:]
    for color in colors:
        assert _has_color(legend, color)
    # Entries go top to bottom in keypoint order.
    rows = [
        np.flatnonzero((legend == np.array(c, np.uint8)).all(axis=-1).any(axis=1)) for c in colors
    ]
    assert [r.mean() for r in rows] == sorted(r.mean() for r in rows)
    # The names are written in white.
    assert (legend > 180).all(axis=-1).sum() > 50
    without_cutoff = with_legend(labelled, NAMES, colors)
    assert without_cutoff.shape[1] <= out.shape[1]


def test_legend_of_many_keypoints_on_a_short_frame_uses_columns() -> None:
    names = [f"kp{i}" for i in range(24)]
    colors = keypoint_colors(len(names))
    frame = np.zeros((60, 80, 3), np.uint8)
    out = with_legend(frame, names, colors)
    assert out.shape[0] == 60  # never taller than the frame
    legend = out[:, 80:]
    for color in colors:
        assert _has_color(legend, color)
    columns = [
        np.flatnonzero((legend == np.array(c, np.uint8)).all(axis=-1).any(axis=0)) for c in colors
    ]
    assert columns[-1].min() > columns[0].max()  # the last entry is in a later column
