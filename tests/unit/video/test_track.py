"""``kpbench track``: streaming inference on a video, its files, and temporal metrics."""

from __future__ import annotations

import inspect
import json
import tracemalloc
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.cli import main
from benchmark.io.predictions import read_predictions
from benchmark.records import TrackRecord, read_record
from benchmark.runner.config import RunConfig
from benchmark.runner.run import run
from benchmark.splits import load_splits
from benchmark.synthetic import generate
from benchmark.video import compare_videos, temporal_metrics, track_video
from benchmark.video.draw import draw_pose
from benchmark.video.io import read_chunks, video_info

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
VIDEO_MEAN = "tests.adapters_for_tests:VideoMeanPoseAdapter"
SIZE = (160, 120)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """A finished run of mean-pose adapters (``mean``, ``mean2``) on a synthetic rat
    project of 16 labelled 160x120 frames, which tracked the project's 32-frame video (it has
    per-frame ground truth beside it), and of two that read videos themselves: ``reader`` and
    ``short`` (its reader stops after 20 frames). Returns the run directory and the video."""
    root = tmp_path_factory.mktemp("track")
    project = generate("rat", root / "rat", n_frames=16, size=SIZE)
    config = {
        "name": "tiny",
        "datasets": [{"name": "rat", "path": str(project)}],
        "adapters": [
            {"name": MEAN, "label": "mean"},
            {"name": MEAN, "label": "mean2", "config": {"epochs": 1}},
            {"name": VIDEO_MEAN, "label": "reader"},
            {"name": VIDEO_MEAN, "label": "short", "config": {"video_frames": 20}},
        ],
        "threads": 1,
        "track_videos": True,
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    run_dir = root / "run"
    run(RunConfig.load(root / "run.yaml"), run_dir, quiet=True)
    return run_dir, project / "videos" / "rat_openfield.mp4"


def _mean_pose(run_dir: Path, adapter: str = "mean") -> np.ndarray:
    """The mean-pose model's prediction in pixels (the same on every frame)."""
    (job,) = (run_dir / "jobs").glob(f"rat__fold0__{adapter}__seed0")
    mean = np.array(json.loads((job / "work/model/mean.json").read_text()))
    return mean * np.array(SIZE, dtype=float)


def test_run_with_track_videos_tracks_each_adapter(tiny_run):
    run_dir, _ = tiny_run
    for adapter in ("mean", "mean2"):
        record = read_record(run_dir / f"tracks/{adapter}__rat_openfield/track.json", TrackRecord)
        assert record.n_frames == 32 and record.timing.threads == 1


def test_track_writes_predictions_video_still_and_record(tiny_run):
    run_dir, video = tiny_run
    record = track_video(run_dir, "mean", video, progress=False)
    folder = run_dir / "tracks" / "mean__rat_openfield"

    pred = read_predictions(folder / "predictions.csv")
    assert pred.frame_ids == tuple(str(i) for i in range(32))
    assert pred.keypoints == tuple(record.keypoints)
    expected = _mean_pose(run_dir)
    np.testing.assert_allclose(
        pred.values[..., :2], np.broadcast_to(expected, (32, *expected.shape))
    )

    from movement.io import load_poses

    poses = load_poses.from_dlc_file(folder / "predictions.csv", fps=30)
    assert poses.position.sizes["time"] == 32
    assert list(poses.keypoints.values) == record.keypoints

    frames = iio.imread(folder / "labelled.mp4", plugin="FFMPEG")
    assert frames.shape[0] == 32 and frames.shape[1:] == (SIZE[1], SIZE[0], 3)
    meta = iio.immeta(folder / "labelled.mp4", plugin="FFMPEG")
    assert meta["codec"] == "h264"
    assert iio.imread(folder / "still.png").shape == (SIZE[1], SIZE[0], 3)

    stored = json.loads((folder / "track.json").read_text())
    assert stored["n_frames"] == 32 and stored["job_id"] == "rat__fold0__mean__seed0"
    assert stored["timing"]["end_to_end_fps"] > 0
    assert stored["timing"]["inference"] == "files"  # MeanPoseAdapter: the PNG fallback
    assert stored["min_score"] == 0.5  # the predictor names no cutoff of its own
    # A constant prediction never moves and is never missing.
    assert stored["temporal"]["jitter_px"] == 0.0
    assert stored["temporal"]["missing_share"] == 0.0
    assert not list(folder.glob(".scratch-*"))


def test_a_predictor_that_reads_videos_itself_is_used_with_its_own_cutoff(tiny_run):
    run_dir, video = tiny_run
    record = track_video(run_dir, "reader", video, progress=False)
    assert record.timing.inference == "framework"
    assert record.timing.frame_counts == {"decoded": 32, "predicted": 32}
    assert record.min_score == 0.9  # the predictor's score_cutoff
    pred = read_predictions(run_dir / "tracks/reader__rat_openfield/predictions.csv")
    expected = _mean_pose(run_dir, "reader")
    np.testing.assert_allclose(pred.values[..., :2], np.broadcast_to(expected, (32, 8, 2)))
    np.testing.assert_allclose(pred.values[..., 2], 0.8)

    assert track_video(run_dir, "reader", video, min_score=0.5, progress=False).min_score == 0.5


def test_frames_a_framework_reader_misses_are_nan_with_a_warning(tiny_run):
    run_dir, video = tiny_run
    with pytest.warns(UserWarning, match="video reader gave 20 frames, kpbench decoded 32"):
        record = track_video(run_dir, "short", video, progress=False)
    assert record.timing.frame_counts == {"decoded": 32, "predicted": 20}
    pred = read_predictions(run_dir / "tracks/short__rat_openfield/predictions.csv")
    assert np.isfinite(pred.values[:20, :, :2]).all()
    assert np.isnan(pred.values[20:, :, :2]).all()
    assert record.temporal["missing_share"] == pytest.approx(12 / 32)


def test_error_against_video_ground_truth(tiny_run):
    run_dir, video = tiny_run
    record = track_video(run_dir, "mean", video, progress=False)
    folder = run_dir / "tracks" / "mean__rat_openfield"
    gt = read_predictions(video.with_name("rat_openfield_groundtruth.csv"))
    cols = [gt.keypoints.index(k) for k in record.keypoints]
    truth = gt.values[:, cols, :2]
    err = np.linalg.norm(_mean_pose(run_dir)[None] - truth, axis=-1)  # NaN where hidden

    table = pd.read_csv(folder / "frame_errors.csv")
    assert len(table) == 32 * len(cols)
    by_frame = table.pivot(index="frame", columns="keypoint", values="error_px")
    np.testing.assert_allclose(by_frame[record.keypoints].to_numpy(), err)
    assert record.groundtruth["mean_px"] == pytest.approx(np.nanmean(err))
    assert record.groundtruth["n_frames"] == 32

    # The frames the model trained on (labeled-data/<video>/img<frame>.png) are left out.
    (split,) = load_splits(run_dir / "splits" / "rat.json")
    trained = sorted(int(f.rsplit("img", 1)[1][:4]) for f in (*split.train, *split.val))
    assert len(trained) == 13 and all(f % 2 == 0 for f in trained)
    unseen = np.setdiff1d(np.arange(32), trained)
    assert record.groundtruth["training_frames"] == 13
    assert record.groundtruth["unseen"]["n_frames"] == 32 - 13
    assert record.groundtruth["unseen"]["mean_px"] == pytest.approx(np.nanmean(err[unseen]))


def test_temporal_metrics_match_a_hand_computation():
    # Keypoint a: still (0.5 px steps) for 3 transitions, then 10 px steps, then a 50 px jump.
    a = [(0, 0), (0.5, 0), (0.5, 0.5), (0.5, 0), (10.5, 0), (20.5, 0), (70.5, 0)]
    # Keypoint b: still, missing in frame 2, then moving 10 px per frame.
    b = [(5, 5), (5, 5), (np.nan, np.nan), (5, 5), (15, 5), (25, 5), (35, 5)]
    values = np.concatenate([np.array([a, b]).transpose(1, 0, 2), np.ones((7, 2, 1))], axis=-1)
    m = temporal_metrics(values, ["a", "b"], still_px=2.0, jump_px=20.0)

    # Displacements: a = [.5, .5, .5, 10, 10, 50]; b = [0, nan, nan, 10, 10, 10].
    # Speed (median per transition) = [.25, .5, .5, 10, 10, 30]: still = first three.
    assert m["still_share"] == pytest.approx(3 / 6)
    assert m["per_keypoint"]["a"]["jitter_px"] == pytest.approx(np.median([0.5] * 3 + [10, 10, 50]))
    assert m["per_keypoint"]["a"]["jitter_still_px"] == pytest.approx(0.5)
    assert m["per_keypoint"]["b"]["jitter_still_px"] == pytest.approx(0.0)
    assert m["per_keypoint"]["a"]["jump_share"] == pytest.approx(1 / 6)
    assert m["per_keypoint"]["b"]["jump_share"] == pytest.approx(0 / 4)
    assert m["per_keypoint"]["b"]["missing_share"] == pytest.approx(1 / 7)
    assert m["missing_share"] == pytest.approx(1 / 14)
    assert m["jitter_px"] == pytest.approx(np.median([0.5, 0.5, 0.5, 10, 10, 50, 0, 10, 10, 10]))
    assert m["jitter_still_px"] == pytest.approx(np.median([0.5, 0.5, 0.5, 0]))
    assert m["jump_share"] == pytest.approx(1 / 6)


def test_reader_is_chunked_and_memory_does_not_grow_with_length(tiny_run, tmp_path):
    run_dir, short = tiny_run
    chunks = read_chunks(short, chunk_size=12)
    assert inspect.isgenerator(chunks)
    assert [len(c) for c in chunks] == [12, 12, 8]
    assert video_info(short).n_frames == 32

    long = generate("rat", tmp_path / "long", n_frames=64, size=SIZE, seed=1)
    long_video = long / "videos" / "rat_openfield.mp4"

    def peak_bytes(video: Path) -> int:
        tracemalloc.start()
        try:
            track_video(run_dir, "mean2", video, chunk_size=8, progress=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak_bytes(short)  # first call imports and caches; measure the second
    short_peak, long_peak = peak_bytes(short), peak_bytes(long_video)
    frame_bytes = SIZE[0] * SIZE[1] * 3
    # 96 more frames: holding them would add ~5.5 MB; streaming adds only predictions.
    assert long_peak - short_peak < 16 * frame_bytes


def test_low_confidence_points_are_hollow():
    frame = np.zeros((60, 80, 3), np.uint8)
    pose = np.array([[20.0, 30.0, 0.9], [60.0, 30.0, 0.1], [np.nan, np.nan, np.nan]])
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    out = draw_pose(frame, pose, [], colors, min_score=0.5, text="")
    assert tuple(out[30, 20]) == (255, 0, 0)  # confident: filled
    assert tuple(out[30, 60]) == (0, 0, 0)  # low score: hollow centre
    assert out[25:36, 55:66, 1].max() > 0  # ... with a green ring
    assert out[..., 2].max() == 0  # not detected: not drawn


def test_cli_track_and_compare(tiny_run, tmp_path, capsys):
    run_dir, video = tiny_run
    h5 = tmp_path / "pred.h5"
    args = ["track", str(run_dir), "--adapter", "mean", "--video", str(video), "--quiet"]
    assert main([*args, "--csv", str(h5)]) == 0
    assert read_predictions(h5).values.shape[0] == 32

    out = tmp_path / "side.mp4"
    compare = ["track", str(run_dir), "--compare", "mean,mean2", "--video", str(video)]
    assert main([*compare, "--out", str(out), "--quiet"]) == 0
    frames = iio.imread(out, plugin="FFMPEG")
    assert frames.shape == (32, SIZE[1], 2 * SIZE[0], 3)
    assert (run_dir / "tracks/compare__mean+mean2__rat_openfield/still.png").is_file()

    assert main(["track", str(run_dir), "--adapter", "nope", "--video", str(video)]) == 2
    assert "no finished job of adapter 'nope'" in capsys.readouterr().err
    missing = tmp_path / "missing.mp4"
    assert main(["track", str(run_dir), "--adapter", "mean", "--video", str(missing)]) == 2


def _files(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("option", "name", "message"),
    [
        ("--csv", "pred.parquet", "--csv takes a .csv or .h5 file"),
        ("--csv", "pred", "--csv takes a .csv or .h5 file"),
        ("--out", "labelled.avi", "--out takes an .mp4 file"),
        ("--out", "labelled", "--out takes an .mp4 file"),
    ],
)
def test_cli_track_refuses_other_output_formats_first(
    tiny_run, tmp_path, capsys, option, name, message
):
    """Before: --csv x.parquet got CSV text, --out without .mp4 a traceback after tracking."""
    run_dir, video = tiny_run
    before = _files(run_dir)
    target = tmp_path / name
    for adapter in ("mean", "nope"):  # "nope": the check comes before the model is looked up
        args = ["track", str(run_dir), "--adapter", adapter, "--video", str(video), "--quiet"]
        assert main([*args, option, str(target)]) == 2
        err = capsys.readouterr().err
        assert err == f"kpbench: error: {target}: {message}" + err.split(message, 1)[1]
        assert err.count("\n") == 1 and "Traceback" not in err
    if option == "--out":
        compare = ["track", str(run_dir), "--compare", "mean,mean2", "--video", str(video)]
        assert main([*compare, "--out", str(target), "--quiet"]) == 2
        assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert _files(run_dir) == before  # nothing written or rewritten


def test_compare_needs_two_adapters(tiny_run):
    run_dir, video = tiny_run
    from benchmark.errors import InputError

    with pytest.raises(InputError, match="at least two"):
        compare_videos(run_dir, ["mean"], video, progress=False)


def test_report_shows_video_tracking(tiny_run, tmp_path):
    from benchmark.report import render_report

    run_dir, video = tiny_run
    track_video(run_dir, "mean", video, progress=False)
    text = render_report(run_dir, tmp_path / "r.md").read_text()
    section = text.split("## Video tracking", 1)[1].split("## Failed jobs", 1)[0]
    assert "| mean | rat_openfield | 160×120 | 32 | kpbench (PNG) |" in section
    assert "| reader | rat_openfield | 160×120 | 32 | framework's own |" in section
    assert "### Error on every video frame" in section
    assert (tmp_path / "r" / "track_mean__rat_openfield.png").is_file()
    assert (tmp_path / "r" / "track_error_rat_openfield.png").is_file()


def test_report_without_tracks_has_no_tracking_section(tmp_path):
    from benchmark.report import render_report
    from tests.run_fixtures import make_fake_run

    run_dir = make_fake_run(tmp_path)
    assert "Video tracking" not in render_report(run_dir, tmp_path / "r.md").read_text()


def _paths(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


@pytest.mark.parametrize(
    ("option", "value"),
    [("--chunk-size", "0"), ("--chunk-size", "-4"), ("--threads", "0"), ("--threads", "-1")],
)
def test_cli_track_refuses_counts_below_one_first(tiny_run, tmp_path, capsys, option, value):
    """Before: a traceback, and --chunk-size 0 left an empty tracks folder behind."""
    run_dir, video = tiny_run
    other = tmp_path / "other.mp4"  # not tracked yet: its track folder would be new
    other.write_bytes(video.read_bytes())
    before = _paths(run_dir)
    for how in (["--adapter", "mean"], ["--compare", "mean,mean2"]):
        args = ["track", str(run_dir), *how, "--video", str(other), "--quiet"]
        assert main([*args, option, value]) == 2
        err = capsys.readouterr().err
        assert err == f"kpbench: error: {option}: must be an integer >= 1, not {value}\n"
    assert _paths(run_dir) == before


def test_compare_checks_every_adapter_before_tracking_any(tiny_run, tmp_path, capsys):
    """Before: --compare mean,nosuch tracked mean and wrote its files, then refused nosuch."""
    run_dir, video = tiny_run
    other = tmp_path / "fresh.mp4"
    other.write_bytes(video.read_bytes())
    before = _paths(run_dir)
    args = ["track", str(run_dir), "--compare", "mean,nosuch", "--video", str(other), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no finished job of adapter 'nosuch'" in err
    assert _paths(run_dir) == before


def test_a_truncated_video_is_tracked_in_part_with_a_warning(tiny_run, tmp_path):
    """Before: the frames that decoded were tracked, exit 0, and nothing said so."""
    import subprocess
    import warnings

    import imageio_ffmpeg

    run_dir, video = tiny_run
    whole = tmp_path / "whole.mp4"  # its index first (faststart): a cut copy still opens
    ffmpeg = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(video), "-c", "copy"]
    subprocess.run([*ffmpeg, "-movflags", "+faststart", str(whole)], check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the whole video: no warning
        assert track_video(run_dir, "mean", whole, progress=False).n_frames == 32
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert video_info(cut).n_frames == 32
    with pytest.warns(UserWarning, match=r"cut\.mp4: decoded (\d+) frames, but its container") as w:
        record = track_video(run_dir, "mean", cut, progress=False)
    assert 0 < record.n_frames < 32
    (said,) = [str(x.message) for x in w if "container" in str(x.message)]
    assert f"decoded {record.n_frames} frames, but its container declares 32" in said
