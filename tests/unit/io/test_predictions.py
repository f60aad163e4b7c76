"""Prediction files: DeepLabCut-style writing (read back by pandas and movement), reading
DeepLabCut and SLEAP predictions, and matching them to ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.io.predictions import (
    Predictions,
    align_predictions,
    read_predictions,
    write_dlc_predictions,
)

KEYPOINTS = ("snout", "leftear", "rightear", "tailbase")


def make_values(n: int = 6, k: int = 4, seed: int = 0) -> np.ndarray:
    """x, y in a 640x480 image and a likelihood; some points (and all of frame 0) not detected."""
    rng = np.random.default_rng(seed)
    values = np.concatenate(
        [rng.uniform(0, 640, (n, k, 1)), rng.uniform(0, 480, (n, k, 1)), rng.random((n, k, 1))],
        axis=-1,
    )
    values[rng.random((n, k)) < 0.2, :2] = np.nan
    values[0] = np.nan  # a first row of only NaN must survive every reader
    return values


def frame_ids(n: int = 6) -> list[str]:
    return [f"labeled-data/m4s1/img{i:04d}.png" for i in range(n)]


def make_gt(ids: list[str], keypoints=KEYPOINTS, root: Path = Path("/data/proj")) -> Dataset:
    """Ground truth with the given frame ids (images need not exist for matching)."""
    rng = np.random.default_rng(1)
    return Dataset(
        name="gt",
        skeleton=Skeleton(tuple(keypoints)),
        frame_ids=tuple(ids),
        image_paths=tuple(root / f for f in ids),
        points=rng.uniform(0, 400, (len(ids), len(keypoints), 2)),
    )


# ----- writing: pandas as DeepLabCut reads it, and movement -----


def split_ids(ids: list[str]) -> list[tuple[str, ...]]:
    return [tuple(f.split("/")) for f in ids]


def test_csv_reads_in_pandas_like_deeplabcut(tmp_path):
    """Single-animal labelled frames: DeepLabCut's 3 header rows and 3-part row index."""
    values, ids = make_values(), frame_ids()
    path = tmp_path / "pred.csv"
    write_dlc_predictions(path, ids, KEYPOINTS, values, scorer="me")
    df = pd.read_csv(path, header=[0, 1, 2], index_col=[0, 1, 2])
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(df.index) == split_ids(ids)
    assert list(df.columns.get_level_values("bodyparts").unique()) == list(KEYPOINTS)
    assert list(df.columns.get_level_values("coords")[:3]) == ["x", "y", "likelihood"]
    assert set(df.columns.get_level_values("scorer")) == {"me"}
    np.testing.assert_allclose(df.to_numpy().reshape(values.shape), values, equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.csv"]  # no temp file left


@pytest.mark.parametrize(
    ("ids", "index"),
    [
        ([str(i) for i in range(6)], list(range(6))),  # video frames, as analyze_videos
        (
            [f"/data/m4s1/img{i}.png" for i in range(6)],
            [f"/data/m4s1/img{i}.png" for i in range(6)],
        ),
    ],
)
def test_three_level_csv_reads_with_header_0_1_2(tmp_path, ids, index):
    values = make_values()
    path = tmp_path / "pred.csv"
    write_dlc_predictions(path, ids, KEYPOINTS, values)
    df = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(df.index) == index
    np.testing.assert_allclose(df.to_numpy().reshape(values.shape), values, equal_nan=True)
    assert read_predictions(path).frame_ids == tuple(ids)


def test_four_level_layout_of_old_runs_is_written_with_individual(tmp_path):
    values, ids = make_values(), frame_ids()
    path = tmp_path / "pred.csv"
    write_dlc_predictions(path, ids, KEYPOINTS, values, individual="animal")
    df = pd.read_csv(path, header=[0, 1, 2, 3], index_col=0)
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(df.index) == ids
    np.testing.assert_allclose(df.to_numpy().reshape(values.shape), values, equal_nan=True)


@pytest.mark.parametrize(
    ("individual", "ids", "index"),
    [
        ("animal", frame_ids(), frame_ids()),
        (None, frame_ids(), split_ids(frame_ids())),
        (None, [str(i) for i in range(6)], list(range(6))),
    ],
)
def test_h5_reads_in_pandas_like_deeplabcut(tmp_path, individual, ids, index):
    values = make_values()
    path = tmp_path / "pred.h5"
    write_dlc_predictions(path, ids, KEYPOINTS, values, individual=individual)
    df = pd.read_hdf(path, key="df_with_missing")
    assert df.columns.nlevels == (4 if individual else 3)
    assert list(df.index) == index
    np.testing.assert_allclose(df.to_numpy().reshape(values.shape), values, equal_nan=True)


@pytest.mark.parametrize(
    ("name", "individual", "ids"),
    [
        ("pred.csv", "animal", frame_ids()),
        ("pred.h5", "animal", frame_ids()),
        ("pred.h5", None, frame_ids()),
        ("track.csv", None, [str(i) for i in range(6)]),
        ("track.h5", None, [str(i) for i in range(6)]),
    ],
)
def test_loads_in_movement(tmp_path, name, individual, ids):
    from movement.io import load_poses

    values = make_values()
    path = tmp_path / name
    write_dlc_predictions(path, ids, KEYPOINTS, values, individual=individual)
    ds = load_poses.from_dlc_file(path)
    assert list(ds.keypoints.values) == list(KEYPOINTS)
    assert ds.position.sizes["time"] == len(ids)
    position = ds.position.transpose("time", "keypoints", "space", "individuals").values[..., 0]
    np.testing.assert_allclose(position, values[..., :2], equal_nan=True)
    confidence = ds.confidence.transpose("time", "keypoints", "individuals").values[..., 0]
    np.testing.assert_allclose(confidence, values[..., 2], equal_nan=True)


@pytest.mark.parametrize("name", ["pred.parquet", "pred", "pred.txt"])
def test_write_refuses_other_formats(tmp_path, name):
    """Only .csv and .h5 are written; before, any other name got CSV text."""
    with pytest.raises(InputError, match=r"\.csv or \.h5") as info:
        write_dlc_predictions(tmp_path / name, frame_ids(), KEYPOINTS, make_values())
    assert info.value.path == tmp_path / name
    assert not any(tmp_path.iterdir())


def test_write_checks_shape(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        write_dlc_predictions(tmp_path / "p.csv", frame_ids(), KEYPOINTS, np.zeros((6, 4, 2)))
    assert not any(tmp_path.iterdir())


# ----- reading DeepLabCut-style files -----


@pytest.mark.parametrize("name", ["pred.csv", "pred.h5"])
@pytest.mark.parametrize("individual", ["animal", None])
def test_read_predictions_roundtrip(tmp_path, name, individual):
    values, ids = make_values(), frame_ids()
    write_dlc_predictions(tmp_path / name, ids, KEYPOINTS, values, individual=individual)
    pred = read_predictions(tmp_path / name)
    assert pred.frame_ids == tuple(ids)
    assert pred.keypoints == KEYPOINTS
    np.testing.assert_allclose(pred.values, values, equal_nan=True)


def test_reads_deeplabcut3_analyze_images_output(tmp_path):
    """DeepLabCut 3 writes key 'predictions', an 'individuals' level and absolute paths."""
    values = make_values()
    ids = [f"/home/u/proj/labeled-data/m4s1/img{i:04d}.png" for i in range(6)]
    columns = pd.MultiIndex.from_product(
        [["DLC_Resnet50_openfieldOct30shuffle1_snapshot_best"], ["individual000"],
         list(KEYPOINTS), ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )  # fmt: skip
    df = pd.DataFrame(values.reshape(6, -1), index=ids, columns=columns)
    df.to_hdf(tmp_path / "image_predictions.h5", key="predictions")
    df.to_csv(tmp_path / "image_predictions.csv")
    for name in ("image_predictions.h5", "image_predictions.csv"):
        pred = read_predictions(tmp_path / name)
        assert pred.frame_ids == tuple(ids)
        np.testing.assert_allclose(pred.values, values, equal_nan=True)


def test_reads_analyze_videos_style_integer_index_and_no_likelihood(tmp_path):
    columns = pd.MultiIndex.from_product(
        [["s"], ["a", "b"], ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    df = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=columns)
    df.to_csv(tmp_path / "video.csv")
    pred = read_predictions(tmp_path / "video.csv")
    assert pred.frame_ids == ("0", "1", "2")
    np.testing.assert_array_equal(pred.values[..., :2], np.arange(12.0).reshape(3, 2, 2))
    assert np.isnan(pred.values[..., 2]).all()


def test_reads_three_level_row_index(tmp_path):
    """DeepLabCut >= 2.2 label tables index rows by ('labeled-data', video, image)."""
    values = make_values(3)
    columns = pd.MultiIndex.from_product(
        [["s"], list(KEYPOINTS), ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    index = pd.MultiIndex.from_tuples([tuple(f.split("/")) for f in frame_ids(3)])
    pd.DataFrame(values.reshape(3, -1), index=index, columns=columns).to_csv(
        tmp_path / "p.csv", na_rep="NaN"
    )
    pred = read_predictions(tmp_path / "p.csv")
    assert pred.frame_ids == tuple(frame_ids(3))
    np.testing.assert_allclose(pred.values, values, equal_nan=True)


def test_several_individuals_is_an_error(tmp_path):
    columns = pd.MultiIndex.from_product(
        [["s"], ["mouse1", "mouse2"], ["a"], ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    pd.DataFrame(np.zeros((2, 6)), columns=columns).to_hdf(tmp_path / "p.h5", key="df_with_missing")
    with pytest.raises(InputError, match="2 individuals"):
        read_predictions(tmp_path / "p.h5")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", "frame,x,y\na.png,1,2\n", "header rows"),
        ("p.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,y\nf0,1,oops\n", "not a number"),
        ("p.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,y\nf0,1,2\nf0,3,4\n", "more than once"),
        ("p.csv", "scorer,s,s\nbodyparts,a,a\ncoords,x,y\n", "no rows"),
        ("p.csv", "scorer,s,s\nbodyparts,a,a\ncoords,u,v\nf0,1,2\n", "coords"),
        ("p.h5", "not hdf5", "not a readable pandas h5"),
        ("p.txt", "x", "unknown prediction format"),
        ("p.slp", "not hdf5", "not a readable SLEAP file"),
    ],
)
def test_bad_prediction_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_predictions(path)
    assert info.value.path == path


def test_missing_prediction_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_predictions(tmp_path / "nope.csv")


# ----- reading SLEAP predictions -----


def test_reads_slp_predictions_with_frame_ids_of_the_labels(blob_dataset, tmp_path):
    import sleap_io as sio

    from benchmark.io.sleap import to_labels

    labels = to_labels(blob_dataset)
    skeleton = labels.skeletons[0]
    values = make_values(blob_dataset.n_frames, seed=3)
    for i, lf in enumerate(labels.labeled_frames):
        if i == 2:
            continue  # a frame with only a user instance: no prediction -> NaN
        weak = sio.PredictedInstance.from_numpy(values[i] + 50, skeleton=skeleton, score=0.1)
        best = sio.PredictedInstance.from_numpy(values[i], skeleton=skeleton, score=0.9)
        lf.instances = [*lf.instances, weak, best]
    path = tmp_path / "predictions.slp"
    sio.save_slp(labels, str(path))
    pred = read_predictions(path)
    assert pred.frame_ids == blob_dataset.frame_ids
    assert pred.keypoints == blob_dataset.keypoints
    want = values.copy()
    want[2] = np.nan
    np.testing.assert_allclose(pred.values[..., :2], want[..., :2], equal_nan=True)
    detected = ~np.isnan(want[..., 0])
    np.testing.assert_allclose(pred.values[..., 2][detected], want[..., 2][detected], rtol=1e-6)
    aligned = align_predictions(blob_dataset, pred, path)
    np.testing.assert_allclose(aligned[..., :2], want[..., :2], equal_nan=True)


def test_slp_without_predictions_is_an_error(blob_dataset, tmp_path):
    from benchmark.io.sleap import write_pkg_slp

    path = write_pkg_slp(blob_dataset, tmp_path / "labels.pkg.slp")
    with pytest.raises(InputError, match="no predicted instances"):
        read_predictions(path)


# ----- matching to ground truth -----


def test_align_by_exact_frame_id_reorders_keypoints_and_ignores_extras():
    values, ids = make_values(), frame_ids()
    order = [3, 1, 0, 2]
    pred = Predictions(
        frame_ids=[*reversed(ids), "labeled-data/m4s1/extra.png"],
        keypoints=[*(KEYPOINTS[j] for j in order), "nose2"],
        values=np.concatenate(
            [
                np.concatenate([values[::-1][:, order], np.zeros((6, 1, 3))], axis=1),
                np.zeros((1, 5, 3)),
            ]
        ),
    )
    gt = make_gt(ids[:4])
    aligned = align_predictions(gt, pred, "p.csv")
    assert aligned.shape == (4, 4, 3)
    np.testing.assert_allclose(aligned, values[:4], equal_nan=True)


def test_align_by_absolute_image_path_suffix():
    """DeepLabCut's analyze_images indexes rows by the absolute image path."""
    values, ids = make_values(), frame_ids()
    pred = Predictions(
        [f"C:\\Users\\u\\proj\\{f}".replace("/", "\\") for f in ids], KEYPOINTS, values
    )
    np.testing.assert_allclose(align_predictions(make_gt(ids), pred, "p"), values, equal_nan=True)
    # Images analysed from a copy elsewhere: only "m4s1/imgNNNN.png" is shared.
    pred = Predictions([f"/tmp/copy/m4s1/img{i:04d}.png" for i in range(6)], KEYPOINTS, values)
    np.testing.assert_allclose(align_predictions(make_gt(ids), pred, "p"), values, equal_nan=True)
    # Bare image names.
    pred = Predictions([f"img{i:04d}.png" for i in range(6)], KEYPOINTS, values)
    np.testing.assert_allclose(align_predictions(make_gt(ids), pred, "p"), values, equal_nan=True)


def test_align_by_exact_image_path():
    values, ids = make_values(), frame_ids()
    gt = make_gt([f"frame{i}" for i in range(6)], root=Path("/data/imgs"))
    pred = Predictions([str(p) for p in gt.image_paths], KEYPOINTS, values)
    np.testing.assert_allclose(align_predictions(gt, pred, "p"), values, equal_nan=True)
    assert ids  # frame ids of gt are unrelated to the predicted paths here


def test_align_prefers_the_longest_unique_suffix():
    values = make_values(2)
    pred = Predictions(["/x/m5s1/img0000.png", "/x/m4s1/img0000.png"], KEYPOINTS, values)
    aligned = align_predictions(make_gt(["labeled-data/m4s1/img0000.png"]), pred, "p")
    np.testing.assert_allclose(aligned, values[1:], equal_nan=True)


def test_align_ambiguous_suffix_is_an_error():
    pred = Predictions(["/x/m5s1/img0000.png", "/x/m4s1/img0000.png"], KEYPOINTS, make_values(2))
    with pytest.raises(InputError, match="matches several predicted frames"):
        align_predictions(make_gt(["img0000.png"]), pred, "p.csv")


def test_align_two_gt_frames_on_one_prediction_is_an_error():
    pred = Predictions(["img0000.png"], KEYPOINTS, make_values(1))
    gt = make_gt(["labeled-data/a/img0000.png", "labeled-data/b/img0000.png"])
    with pytest.raises(InputError, match="matches both"):
        align_predictions(gt, pred, "p.csv")


def test_align_missing_frame_is_an_error_not_a_skip():
    values, ids = make_values(), frame_ids()
    pred = Predictions(ids[:5], KEYPOINTS, values[:5])
    with pytest.raises(InputError) as info:
        align_predictions(make_gt(ids), pred, "runs/p.csv")
    assert info.value.path == Path("runs/p.csv")
    assert info.value.problem == f"no prediction for frame {ids[5]}"


def test_align_missing_keypoint_is_an_error():
    values, ids = make_values(), frame_ids()
    pred = Predictions(ids, ("snout", "leftear", "rightear", "tail"), values)
    with pytest.raises(InputError, match="tailbase missing from the predictions"):
        align_predictions(make_gt(ids), pred, "p.csv")


def test_predictions_checks_shape():
    with pytest.raises(ValueError, match="shape"):
        Predictions(("a",), ("k",), np.zeros((1, 2, 3)))
