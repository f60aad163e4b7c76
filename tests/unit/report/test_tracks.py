"""The report's video-tracking section: labelled stills get a keypoint legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.records import TrackRecord, TrackTiming, write_record
from benchmark.report.tracks import tracking_context
from benchmark.video.draw import draw_pose, keypoint_colors
from benchmark.video.track import STILL, TRACK_JSON, TRACKS

KEYPOINTS = ["snout", "neck", "tail_base"]


def _fake_track(run_dir: Path) -> np.ndarray:
    """A track folder as ``kpbench track`` leaves it (record and still); returns the still."""
    folder = run_dir / TRACKS / "heatmap__rat_openfield"
    folder.mkdir(parents=True)
    colors = keypoint_colors(len(KEYPOINTS))
    pose = np.array([[30.0, 40.0, 0.9], [60.0, 50.0, 0.2], [90.0, 60.0, 0.8]])
    still = draw_pose(
        np.full((120, 160, 3), 100, np.uint8), pose, [(0, 1)], colors, min_score=0.5, text="x"
    )
    Image.fromarray(still).save(folder / STILL)
    record = TrackRecord(
        adapter="heatmap",
        adapter_name="heatmap",
        job_id="rat__fold0__heatmap__seed0",
        dataset="rat",
        video="/videos/rat_openfield.mp4",
        video_stem="rat_openfield",
        n_frames=32,
        width=160,
        height=120,
        video_fps=30.0,
        keypoints=KEYPOINTS,
        edges=[["snout", "neck"]],
        min_score=0.5,
        timing=TrackTiming(
            load_s=0.1,
            total_s=0.64,
            end_to_end_fps=50.0,
            predict_s=0.4,
            predict_fps=80.0,
            decode_s=0.1,
            draw_encode_write_s=0.14,
            peak_rss_mb=500.0,
            threads=1,
            chunk_size=32,
            inference="frames",
        ),
        temporal={"still_px": 1.0, "jump_px": 20.0, "jitter_px": 0.5},
        groundtruth=None,
        files={"predictions": "predictions.csv", "still": STILL, "video": "labelled.mp4"},
    )
    write_record(folder / TRACK_JSON, record)
    return still


def test_report_still_has_a_legend_of_the_track_colours(tmp_path: Path) -> None:
    still = _fake_track(tmp_path / "run")
    context = tracking_context(tmp_path / "run", tmp_path / "r", "r", {})
    assert context is not None
    assert context["stills"] == [
        {"title": "heatmap on rat_openfield", "link": "r/track_heatmap__rat_openfield.png"}
    ]
    shown = np.asarray(Image.open(tmp_path / "r" / "track_heatmap__rat_openfield.png"))
    assert shown.shape[0] == still.shape[0] and shown.shape[1] > still.shape[1]
    np.testing.assert_array_equal(shown[:, : still.shape[1]], still)
    legend = shown[:, still.shape[1] :]
    for color in keypoint_colors(len(KEYPOINTS)):
        assert (legend == np.array(color, np.uint8)).all(axis=-1).any()
    # The track's own still is left as kpbench track wrote it.
    own = np.asarray(Image.open(tmp_path / "run" / TRACKS / "heatmap__rat_openfield" / STILL))
    np.testing.assert_array_equal(own, still)
