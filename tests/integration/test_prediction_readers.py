"""DeepLabCut's, movement's and sleap-io's own readers load kpbench's prediction files.

Two files, written with the calls kpbench makes: a job's predictions of labelled frames
(``runner/worker.py``: the test frames' ids ``labeled-data/<video>/<image>``) and a track of
every frame of a video (``video/track.py``: frame numbers), each as CSV and h5. The keypoints
are in the dataset's order, which is not alphabetical, so a reader that sorts them shows.

Importing DeepLabCut takes 30-80 s: every DeepLabCut check is in this module, behind one
module-scoped fixture.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.io import read_dataset
from benchmark.io.predictions import write_dlc_predictions
from benchmark.synthetic import generate

pytestmark = pytest.mark.integration

SCORER = "kpbench-mean"


def make_values(n: int, k: int, seed: int) -> np.ndarray:
    """x, y in a 160x120 image and a likelihood; some points, and all of frame 1, missing."""
    rng = np.random.default_rng(seed)
    values = np.concatenate(
        [rng.uniform(0, 160, (n, k, 1)), rng.uniform(0, 120, (n, k, 1)), rng.random((n, k, 1))],
        axis=-1,
    )
    values[rng.random((n, k)) < 0.2] = np.nan
    values[1] = np.nan
    return values


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """A synthetic rat project (6 labelled frames, 12-frame video) and kpbench's files."""
    root = tmp_path_factory.mktemp("readers")
    project = generate("rat", root / "rat", n_frames=6, size=(160, 120))
    ds = read_dataset(project)
    keypoints = list(ds.keypoints)
    assert keypoints != sorted(keypoints)
    n_video = 12
    out = {
        "root": root,
        "project": project,
        "frame_ids": list(ds.frame_ids),
        "keypoints": keypoints,
        "pred": make_values(ds.n_frames, len(keypoints), seed=0),
        "track": make_values(n_video, len(keypoints), seed=1),
    }
    job = root / "run" / "jobs" / "rat__fold0__mean__seed0"
    track = root / "run" / "tracks" / "mean__rat_openfield"
    for suffix in (".csv", ".h5"):
        out[f"pred{suffix}"] = job / f"predictions{suffix}"
        write_dlc_predictions(out[f"pred{suffix}"], ds.frame_ids, keypoints, out["pred"], SCORER)
        # DeepLabCut names a video's predictions <video stem><scorer>.h5 (track --csv NAME).
        out[f"track{suffix}"] = track / f"rat_openfield{SCORER}{suffix}"
        frames = [str(i) for i in range(n_video)]
        write_dlc_predictions(out[f"track{suffix}"], frames, keypoints, out["track"], SCORER)
    return out


@pytest.fixture(scope="module")
def deeplabcut():
    import deeplabcut

    return deeplabcut


def test_deeplabcut_reads_both_files(files, deeplabcut, tmp_path):
    from deeplabcut.pose_estimation_pytorch.apis.videos import create_df_from_prediction
    from deeplabcut.pose_estimation_pytorch.data.ctd import CondFromFile
    from deeplabcut.utils import auxiliaryfunctions

    keypoints, track, pred = files["keypoints"], files["track"], files["pred"]

    # The track is what analyze_videos writes for the same poses (its own writer).
    model_cfg = {
        "metadata": {"bodyparts": keypoints, "unique_bodyparts": [], "individuals": ["animal"]}
    }
    create_df_from_prediction(
        [{"bodyparts": pose[None]} for pose in track],
        SCORER,
        multi_animal=False,
        model_cfg=model_cfg,
        output_path=tmp_path,
        output_prefix=f"rat_openfield{SCORER}",
        save_as_csv=True,
    )
    theirs = pd.read_hdf(tmp_path / f"rat_openfield{SCORER}.h5")
    pd.testing.assert_frame_equal(pd.read_hdf(files["track.h5"]), theirs)
    # DeepLabCut's documented way to read a single-animal CSV.
    for csv in (files["track.csv"], tmp_path / f"rat_openfield{SCORER}.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(csv, header=[0, 1, 2], index_col=0), theirs)
    df, _, scorer, _ = auxiliaryfunctions.load_analyzed_data(
        files["track.h5"].parent, "rat_openfield", SCORER
    )
    assert scorer == SCORER and list(df.index) == list(range(12))
    assert list(df.columns.get_level_values("bodyparts").unique()) == keypoints
    np.testing.assert_allclose(df.to_numpy().reshape(track.shape), track, equal_nan=True)

    # Labelled frames: CSV rows ("labeled-data", video, image) as in DeepLabCut's label files.
    df = pd.read_csv(files["pred.csv"], header=[0, 1, 2], index_col=[0, 1, 2])
    assert list(df.index) == [tuple(f.split("/")) for f in files["frame_ids"]]
    assert list(df.columns.get_level_values("bodyparts").unique()) == keypoints
    assert list(df.columns.get_level_values("coords")[:3]) == ["x", "y", "likelihood"]
    np.testing.assert_allclose(df.to_numpy().reshape(pred.shape), pred, equal_nan=True)

    # DeepLabCut 3 reads predictions of images and of videos (CTD conditions) from h5.
    # It zeroes missing keypoints and drops a pose with none.
    images = [str(files["project"] / f) for f in files["frame_ids"]]
    by_image = CondFromFile.load_conditions_h5(files["pred.h5"], images, files["project"])
    assert sorted(by_image) == sorted(images)
    per_frame = CondFromFile.load_conditions_h5(files["track.h5"])
    assert len(per_frame) == 12
    for got, want in [(by_image[i], v) for i, v in zip(images, pred, strict=True)] + list(
        zip(per_frame, track, strict=True)
    ):
        if np.isnan(want).all():
            assert got.shape == (0, len(keypoints), 3)
        else:
            np.testing.assert_allclose(got[0], np.nan_to_num(want))


def test_movement_reads_both_files(files):
    from movement.io import load_poses

    keypoints = files["keypoints"]

    def check(ds, values: np.ndarray) -> None:
        assert list(ds.keypoints.values) == keypoints
        assert ds.position.sizes["time"] == len(values)
        position = ds.position.transpose("time", "keypoints", "space", "individuals")
        np.testing.assert_allclose(position.values[..., 0], values[..., :2], equal_nan=True)
        confidence = ds.confidence.transpose("time", "keypoints", "individuals")
        np.testing.assert_allclose(confidence.values[..., 0], values[..., 2], equal_nan=True)

    for name in ("track.csv", "track.h5"):
        check(load_poses.from_dlc_file(files[name], fps=30), files["track"])
    check(load_poses.from_dlc_file(files["pred.h5"]), files["pred"])
    # movement's file reader takes a 3-level CSV only with frame numbers as rows, as in
    # analyze_videos output (DeepLabCut's own label CSVs of labelled frames are refused
    # alike); such a CSV goes through movement's reader of DeepLabCut tables.
    with pytest.raises(ValueError, match="header rows"):
        load_poses.from_dlc_file(files["pred.csv"])
    df = pd.read_csv(files["pred.csv"], header=[0, 1, 2], index_col=[0, 1, 2])
    check(load_poses.from_dlc_style_df(df), files["pred"])


def test_sleap_io_reads_what_its_dlc_reader_can(files, deeplabcut, tmp_path):
    """sleap-io 0.9.5's ``load_dlc`` reads a CSV of labelled images, only where it finds the
    images (beside the CSV, or under ``labeled-data/`` beside it or one folder up). It sorts
    the keypoints by name and makes user ``Instance``s of the rows: it never reads the
    likelihood column, so no scores can come through it."""
    import sleap_io as sio
    from deeplabcut.pose_estimation_pytorch.apis.videos import create_df_from_prediction

    project, keypoints, pred = files["project"], files["keypoints"], files["pred"]
    # In the run's job folder there are no images: no frames. Beside the images, where
    # DeepLabCut keeps label files, every row is read.
    assert not sio.load_dlc(files["pred.csv"], config=False).labeled_frames
    beside = project / "labeled-data" / "rat_openfield" / "predictions.csv"
    shutil.copy(files["pred.csv"], beside)
    labels = sio.load_dlc(beside)
    assert not labels.tracks  # read as single-animal (the old 4-level file: one track)
    assert labels.skeletons[0].node_names == sorted(keypoints)
    got = {}
    for lf in labels.labeled_frames:
        image = Path(lf.video.filename[lf.frame_idx]).relative_to(project).as_posix()
        assert len(lf.instances) <= 1
        got[image] = (
            lf.instances[0].numpy() if lf.instances else np.full((len(keypoints), 2), np.nan)
        )
    assert sorted(got) == sorted(files["frame_ids"])
    order = [keypoints.index(k) for k in labels.skeletons[0].node_names]
    for frame_id, values in zip(files["frame_ids"], pred, strict=True):
        np.testing.assert_allclose(got[frame_id], values[order, :2], equal_nan=True)

    # A video's CSV has no images to map rows to: sleap-io reads kpbench's track file as it
    # reads analyze_videos' own CSV, keypoints only.
    model_cfg = {
        "metadata": {"bodyparts": keypoints, "unique_bodyparts": [], "individuals": ["animal"]}
    }
    create_df_from_prediction(
        [{"bodyparts": pose[None]} for pose in files["track"]],
        SCORER,
        multi_animal=False,
        model_cfg=model_cfg,
        output_path=tmp_path,
        output_prefix="dlc",
        save_as_csv=True,
    )
    ours = sio.load_dlc(files["track.csv"], config=False)
    theirs = sio.load_dlc(tmp_path / "dlc.csv", config=False)
    assert ours.skeletons[0].node_names == theirs.skeletons[0].node_names == sorted(keypoints)
    assert len(ours.labeled_frames) == len(theirs.labeled_frames) == 0
