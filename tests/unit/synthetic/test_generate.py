"""The synthetic rat and rabbit generators: DeepLabCut output, determinism, plausible labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.images import read_image
from benchmark.io.dlc import read_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.synthetic import LABEL_EVERY, VIDEOS, generate, render_frames, skeleton

SMALL = {"n_frames": 16, "size": (160, 120)}


@pytest.fixture(scope="module", params=["rat", "rabbit"])
def project(request, tmp_path_factory) -> tuple[str, Path]:
    """A generated project of 16 labelled frames at 160x120 (seed 0) for each animal."""
    kind = request.param
    out = tmp_path_factory.mktemp(kind)
    generate(kind, out, seed=0, **SMALL)
    return kind, out


def test_project_reads_back_with_counts(project):
    kind, out = project
    ds, _ = read_dlc_project(out)
    assert ds.n_frames == 16
    assert ds.keypoints == skeleton(kind).keypoints
    assert len(ds.keypoints) == 8
    assert ds.image_size() == (160, 120)
    assert ds.frame_ids[1] == f"labeled-data/{VIDEOS[kind]}/img{LABEL_EVERY:04d}.png"
    meta = yaml.safe_load((out / "kpbench.yaml").read_text())
    assert meta["species"] == kind and meta["synthetic"] is True and meta["seed"] == 0


def test_visible_labels_lie_inside_the_image(project):
    _, out = project
    ds, _ = read_dlc_project(out)
    pts = ds.points[ds.labeled]
    assert pts.size > 0
    assert (pts[:, 0] >= -0.5).all() and (pts[:, 0] <= 159.5).all()
    assert (pts[:, 1] >= -0.5).all() and (pts[:, 1] <= 119.5).all()


def test_video_and_groundtruth_cover_every_frame(project):
    import imageio.v2 as iio

    kind, out = project
    with iio.get_reader(out / "videos" / f"{VIDEOS[kind]}.mp4", format="FFMPEG") as reader:
        assert reader.get_meta_data()["codec"] == "h264"
        frames = list(reader.iter_data())
    assert len(frames) == 16 * LABEL_EVERY
    assert frames[0].shape == (120, 160, 3)
    truth = read_predictions(out / "videos" / f"{VIDEOS[kind]}_groundtruth.csv")
    assert truth.frame_ids == tuple(str(i) for i in range(16 * LABEL_EVERY))
    assert truth.keypoints == skeleton(kind).keypoints
    ds, _ = read_dlc_project(out)
    # Labelled frames are every LABEL_EVERY-th video frame, with the same labels.
    np.testing.assert_allclose(truth.values[::LABEL_EVERY, :, :2], ds.points, atol=1e-9)
    visible = ~np.isnan(truth.values[..., 0])
    assert (truth.values[..., 2][visible] == 1).all()
    assert np.isnan(truth.values[..., 2][~visible]).all()


def test_same_seed_gives_identical_files(project, tmp_path):
    kind, out = project
    again = generate(kind, tmp_path / "again", seed=0, **SMALL)
    folder = f"labeled-data/{VIDEOS[kind]}"
    for rel in (f"{folder}/CollectedData_kpbench.csv", f"videos/{VIDEOS[kind]}_groundtruth.csv"):
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
    for png in sorted((out / folder).glob("*.png")):
        assert png.read_bytes() == (again / folder / png.name).read_bytes(), png.name
    # HDF5 files embed write times in their object headers, so compare the stored table.
    a = pd.read_hdf(out / folder / "CollectedData_kpbench.h5")
    b = pd.read_hdf(again / folder / "CollectedData_kpbench.h5")
    pd.testing.assert_frame_equal(a, b)


def test_different_seed_gives_different_data(project, tmp_path):
    kind, out = project
    other = generate(kind, tmp_path / "other", seed=1, **SMALL)
    a, _ = read_dlc_project(out)
    b, _ = read_dlc_project(other)
    assert not np.array_equal(np.nan_to_num(a.points), np.nan_to_num(b.points))
    assert read_image(a.image_paths[0]).tobytes() != read_image(b.image_paths[0]).tobytes()


@pytest.mark.parametrize("kind", ["rat", "rabbit"])
def test_some_points_are_hidden(kind):
    pts = np.array([p for _, p in render_frames(kind, 120, (160, 120), seed=3)])
    hidden = np.isnan(pts[..., 0])
    assert hidden.any()
    assert not hidden.all(axis=0).any()  # every keypoint is visible somewhere


def test_rat_tail_tip_is_rarely_visible():
    names = skeleton("rat").keypoints
    pts = np.array([p for _, p in render_frames("rat", 240, (320, 240), seed=0)])
    visible = ~np.isnan(pts[..., 0])
    assert 0.1 <= visible[:, names.index("tail_tip")].mean() <= 0.45
    assert visible[:, names.index("mid_back")].mean() > 0.9


@pytest.mark.parametrize(
    ("kind", "point"),
    [("rat", "snout"), ("rat", "mid_back"), ("rabbit", "eye"), ("rabbit", "back")],
)
def test_keypoints_sit_on_the_animal(kind, point):
    """A visible keypoint's pixel differs from the same pixel when the animal is elsewhere."""
    j = skeleton(kind).keypoints.index(point)
    frames = list(render_frames(kind, 240, (160, 120), seed=2))
    centres = np.array([np.nanmean(p, axis=0) for _, p in frames])
    diffs = []
    for image, pts in frames:
        if np.isnan(pts[j, 0]):
            continue
        away = np.flatnonzero(np.linalg.norm(centres - pts[j], axis=1) > 50)
        if away.size == 0:
            continue
        x, y = np.round(pts[j]).astype(int)
        empty = frames[away[0]][0]
        diffs.append(np.abs(image[y, x].astype(float) - empty[y, x]).max())
    assert len(diffs) >= 5
    assert np.median(diffs) > 25


def test_unknown_kind_and_bad_size_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown synthetic animal"):
        next(render_frames("cat", 2, (64, 48), seed=0))
    with pytest.raises(ValueError, match="even"):
        next(render_frames("rat", 2, (65, 48), seed=0))


def test_species_comes_back_when_read_by_path(project):
    """kpbench.yaml carries what DeepLabCut's config may not (species, synthetic)."""
    from benchmark.io import read_dataset

    kind, out = project
    ds = read_dataset(out)
    assert ds.meta["species"] == kind and ds.meta["synthetic"] is True
