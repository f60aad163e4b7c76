"""SLEAP files through sleap-io: our .pkg.slp writer, files sleap-io writes itself, videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio

from benchmark.errors import InputError
from benchmark.io import detect_format, read_dataset
from benchmark.io.sleap import write_pkg_slp


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """Frames materialised from .slp files go to a per-test cache."""
    monkeypatch.setenv("KPBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def sio_labels(ds, video, frame_inds=None, symmetries=()) -> sio.Labels:
    """Labels with one user instance per frame of ``ds`` on ``video``, written by sleap-io."""
    skeleton = sio.Skeleton(
        list(ds.keypoints),
        edges=[list(e) for e in ds.skeleton.edge_names],
        symmetries=[list(p) for p in symmetries],
    )
    frame_inds = frame_inds or range(ds.n_frames)
    frames = [
        sio.LabeledFrame(video, fi, [sio.Instance.from_numpy(ds.points[i], skeleton)])
        for i, fi in enumerate(frame_inds)
    ]
    return sio.Labels(frames, videos=[video], skeletons=[skeleton])


def test_pkg_slp_round_trip(tmp_path, small_dataset, cache):
    path = write_pkg_slp(small_dataset, tmp_path / "out" / "train.pkg.slp")
    assert detect_format(path) == "sleap"
    back = read_dataset(path)
    assert back.format == "sleap"
    assert back.keypoints == small_dataset.keypoints
    assert back.skeleton.edges == small_dataset.skeleton.edges
    assert back.frame_ids == small_dataset.frame_ids
    np.testing.assert_allclose(back.points, small_dataset.points, atol=1e-6, equal_nan=True)
    # embedded frames were materialised as PNGs in the cache, pixel-identical
    assert all(p.is_relative_to(cache / "frames") for p in back.image_paths)
    from benchmark.images import read_image

    np.testing.assert_array_equal(
        read_image(back.image_paths[3]), read_image(small_dataset.image_paths[3])
    )


def test_pkg_slp_embeds_images(tmp_path, small_dataset):
    path = write_pkg_slp(small_dataset, tmp_path / "train.pkg.slp")
    labels = sio.load_slp(str(path))
    assert len(labels) == small_dataset.n_frames
    assert labels.videos[0].backend.has_embedded_images
    assert [n.name for n in labels.skeleton.nodes] == list(small_dataset.keypoints)
    assert len(labels[0].user_instances) == 1
    # NaN points are stored as not visible
    vis = ~np.isnan(small_dataset.points[..., 0])
    got = np.stack([lf.user_instances[0].points["visible"] for lf in labels])
    np.testing.assert_array_equal(got, vis)


def test_materialised_frames_are_reused(tmp_path, small_dataset):
    path = write_pkg_slp(small_dataset, tmp_path / "train.pkg.slp")
    first = read_dataset(path)
    stamp = first.image_paths[0].stat().st_mtime_ns
    second = read_dataset(path)
    assert second.image_paths == first.image_paths
    assert second.image_paths[0].stat().st_mtime_ns == stamp


def test_slp_with_image_files_on_disk(tmp_path, small_dataset, cache):
    """A .slp written by sleap-io itself whose video is a list of images next to it."""
    video = sio.Video.from_filename([str(p) for p in small_dataset.image_paths])
    path = tmp_path / "src" / "labels.slp"
    sio.save_slp(sio_labels(small_dataset, video), str(path))
    back = read_dataset(path)
    assert back.image_paths == small_dataset.image_paths  # used in place, nothing cached
    assert back.frame_ids == small_dataset.frame_ids  # relative to the .slp's folder
    np.testing.assert_allclose(back.points, small_dataset.points, atol=1e-6, equal_nan=True)
    assert not (cache / "frames").exists()


def test_sleap_io_embedded_without_our_metadata(tmp_path, small_dataset):
    video = sio.Video.from_filename([str(p) for p in small_dataset.image_paths])
    path = tmp_path / "other" / "labels.pkg.slp"
    path.parent.mkdir()
    sio.save_slp(sio_labels(small_dataset, video), str(path), embed="user")
    back = read_dataset(path)
    # ids come from the source images' folder and name
    assert back.frame_ids[0] == "vid1/img0000.png"
    np.testing.assert_allclose(back.points, small_dataset.points, atol=1e-6, equal_nan=True)


def test_slp_with_video_file(tmp_path, small_dataset):
    import imageio.v2 as imageio

    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(6)]
    mp4 = tmp_path / "clip.mp4"
    imageio.mimwrite(mp4, frames, fps=10, macro_block_size=16)
    ds = small_dataset.subset(small_dataset.frame_ids[:3])
    labels = sio_labels(ds, sio.Video.from_filename(str(mp4)), frame_inds=[1, 3, 5])
    path = tmp_path / "labels.slp"
    sio.save_slp(labels, str(path))
    back = read_dataset(path)
    assert back.frame_ids == ("clip.mp4/000001.png", "clip.mp4/000003.png", "clip.mp4/000005.png")
    assert back.image_size() == (48, 32)
    np.testing.assert_allclose(back.points, ds.points, atol=1e-6, equal_nan=True)


def test_skeleton_symmetries_are_the_declared_pairs(tmp_path, small_dataset):
    """A file's symmetries win over the name rule; a file without any leaves it to names."""
    video = sio.Video.from_filename([str(p) for p in small_dataset.image_paths])
    declared = tmp_path / "src" / "declared.slp"
    sio.save_slp(
        sio_labels(small_dataset, video, symmetries=[("tail_base", "snout")]), str(declared)
    )
    ds = read_dataset(declared)
    assert ds.skeleton.symmetries == ((0, 3),)
    assert ds.skeleton.flip_pairs() == [(0, 3)]
    plain = tmp_path / "src" / "plain.slp"
    sio.save_slp(sio_labels(small_dataset, video), str(plain))
    ds = read_dataset(plain)
    assert ds.skeleton.symmetries is None
    assert ds.skeleton.flip_pairs() == [(1, 2)]  # left_ear <-> right_ear, by name


def test_a_keypoint_in_two_symmetries_is_refused(tmp_path, small_dataset):
    video = sio.Video.from_filename([str(p) for p in small_dataset.image_paths])
    path = tmp_path / "src" / "labels.slp"
    pairs = [("left_ear", "right_ear"), ("right_ear", "snout")]
    sio.save_slp(sio_labels(small_dataset, video, symmetries=pairs), str(path))
    with pytest.raises(InputError, match="'right_ear' is in two left/right pairs") as err:
        read_dataset(path)
    assert err.value.path == path.resolve()


def test_written_files_declare_the_pairs_the_harness_mirrors_with(tmp_path, small_dataset):
    path = write_pkg_slp(small_dataset, tmp_path / "train.pkg.slp")
    assert sio.load_slp(str(path)).skeleton.symmetry_names == [("left_ear", "right_ear")]
    lone = small_dataset.with_keypoints(["snout", "left_ear", "tail_base"])  # no partner
    path = write_pkg_slp(lone, tmp_path / "lone.pkg.slp")
    assert sio.load_slp(str(path)).skeleton.symmetries == []


def test_predicted_only_frames_are_skipped(tmp_path, small_dataset):
    video = sio.Video.from_filename([str(p) for p in small_dataset.image_paths])
    labels = sio_labels(small_dataset.subset(small_dataset.frame_ids[:4]), video)
    skeleton = labels.skeleton
    pred = sio.PredictedInstance.from_numpy(np.full((4, 2), 10.0), skeleton=skeleton)
    labels.append(sio.LabeledFrame(video, 6, [pred]))
    path = tmp_path / "src" / "labels.slp"
    sio.save_slp(labels, str(path))
    assert read_dataset(path).n_frames == 4


def test_several_user_instances_are_not_supported(tmp_path, small_dataset):
    video = sio.Video.from_filename([str(p) for p in small_dataset.image_paths])
    labels = sio_labels(small_dataset, video)
    labels[0].instances.append(
        sio.Instance.from_numpy(small_dataset.points[1], skeleton=labels.skeleton)
    )
    path = tmp_path / "src" / "labels.slp"
    sio.save_slp(labels, str(path))
    with pytest.raises(InputError, match="multi-animal") as err:
        read_dataset(path)
    assert err.value.path == path.resolve()


def test_not_a_slp_file(tmp_path):
    path = tmp_path / "broken.slp"
    path.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="not a readable SLEAP file") as err:
        read_dataset(path)
    assert err.value.path == path.resolve()
