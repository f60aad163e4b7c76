"""DeepLabCut projects and label files: writing, reading every layout variant, round trips."""

from __future__ import annotations

import re
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.io import read_dataset
from benchmark.io.dlc import (
    dlc_image_paths,
    read_label_csv,
    read_label_h5,
    write_dlc_labels,
    write_dlc_project,
)


def assert_same_labels(a: Dataset, b: Dataset) -> None:
    assert a.keypoints == b.keypoints
    assert a.frame_ids == b.frame_ids
    np.testing.assert_allclose(a.points, b.points, atol=1e-6, equal_nan=True)


def label_files(project: Path) -> list[Path]:
    return sorted(project.glob("labeled-data/*/CollectedData_*"))


# ----- writer -----


def test_written_project_layout(dlc_project):
    project, ds = dlc_project
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    assert cfg["engine"] == "pytorch"
    assert cfg["scorer"] == "kp"
    assert cfg["multianimalproject"] is False
    assert cfg["bodyparts"] == list(ds.keypoints)
    assert cfg["skeleton"] == [list(e) for e in ds.skeleton.edge_names]
    assert cfg["project_path"] == str(project.resolve())
    assert cfg["iteration"] == 0 and cfg["TrainingFraction"] == [0.95]
    # DeepLabCut finds labeled-data/<stem of each video_sets key>/CollectedData_<scorer>.h5
    assert sorted(Path(v).stem for v in cfg["video_sets"]) == ["vid1", "vid2"]
    assert all(Path(v).is_absolute() for v in cfg["video_sets"])
    assert cfg["video_sets"][str(project.resolve() / "videos" / "vid1.mp4")] == {
        "crop": "0, 40, 0, 32"
    }
    for video, n in (("vid1", 5), ("vid2", 3)):
        h5 = project / "labeled-data" / video / "CollectedData_kp.h5"
        with pd.HDFStore(h5, "r") as store:
            assert store.keys() == ["/df_with_missing"]
        df = pd.read_hdf(h5)
        assert df.shape == (n, 8)
        assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
        assert df.index.nlevels == 3
        assert df.index[0] == ("labeled-data", video, "img0000.png")
        assert (project / "labeled-data" / video / "CollectedData_kp.csv").is_file()
        assert (project / "labeled-data" / video / "img0000.png").is_file()


def test_project_round_trip(dlc_project):
    project, ds = dlc_project
    back = read_dataset(project)
    assert_same_labels(ds, back)
    assert back.format == "deeplabcut"
    assert back.meta["scorer"] == "kp"
    assert back.skeleton == ds.skeleton
    assert all(p.is_relative_to(project.resolve()) for p in back.image_paths)


def test_round_trip_keeps_unsorted_keypoint_order(tmp_path, small_dataset):
    order = [3, 0, 2, 1]
    ds = replace(
        small_dataset,
        skeleton=Skeleton(tuple(small_dataset.keypoints[i] for i in order)),
        points=small_dataset.points[:, order],
    )
    back = read_dataset(write_dlc_project(ds, tmp_path / "p"))
    assert back.keypoints == ds.keypoints
    assert_same_labels(ds, back)


@pytest.mark.parametrize("images", ["copy", "symlink"])
def test_images_copied_or_linked(tmp_path, small_dataset, images):
    project = write_dlc_project(small_dataset, tmp_path / "p", images=images).parent
    img = project / small_dataset.frame_ids[0]
    assert img.is_symlink() == (images == "symlink")
    assert img.read_bytes() == small_dataset.image_paths[0].read_bytes()


def test_inplace_uses_images_already_in_project(tmp_path, small_dataset):
    project = tmp_path / "src"  # small_dataset's images already live at src/<frame id>
    before = {p: p.stat().st_mtime_ns for p in small_dataset.image_paths}
    config = write_dlc_project(small_dataset, project, images="inplace")
    assert {p: p.stat().st_mtime_ns for p in small_dataset.image_paths} == before
    assert_same_labels(small_dataset, read_dataset(config))


def test_inplace_with_missing_image_fails(tmp_path, small_dataset):
    with pytest.raises(InputError, match="missing"):
        write_dlc_project(small_dataset, tmp_path / "elsewhere", images="inplace")


def test_foreign_frame_ids_get_project_paths(tmp_path, small_dataset):
    ids = tuple(f"clip.mp4/{i:06d}.png" for i in range(small_dataset.n_frames))
    ds = replace(small_dataset, frame_ids=ids)
    rel = dlc_image_paths(ds)
    assert rel[0] == "labeled-data/clip.mp4/000000.png"
    assert len(set(rel)) == len(rel)
    back = read_dataset(write_dlc_project(ds, tmp_path / "p"))
    np.testing.assert_allclose(back.points, ds.points, atol=1e-6, equal_nan=True)
    assert list(back.frame_ids) == rel


def test_colliding_names_become_unique(small_dataset):
    ids = ("x/a_b.png", "x/a/b.png", "c.png", "d.png", "x/y.png", "x/z.png", "e/f.png", "g.png")
    rel = dlc_image_paths(replace(small_dataset, frame_ids=ids))
    assert rel[:3] == [
        "labeled-data/x/a_b.png",
        "labeled-data/x/a_b_1.png",
        "labeled-data/blobs/c.png",
    ]
    assert len(set(rel)) == 8


# ----- reader variants -----


def test_old_single_column_index(dlc_project):
    project, ds = dlc_project
    for h5 in project.glob("labeled-data/*/CollectedData_kp.h5"):
        df = pd.read_hdf(h5)
        df.index = ["/".join(i) for i in df.index]
        h5.unlink()
        df.to_hdf(h5, key="df_with_missing", mode="w", format="table")
        df.to_csv(h5.with_suffix(".csv"))
    assert_same_labels(ds, read_dataset(project))
    for csv in project.glob("labeled-data/*/*.csv"):
        csv.with_suffix(".h5").unlink()
    assert_same_labels(ds, read_dataset(project))


def test_windows_paths_in_index(dlc_project):
    project, ds = dlc_project
    for h5 in project.glob("labeled-data/*/CollectedData_kp.h5"):
        df = pd.read_hdf(h5)
        df.index = ["\\".join(i) for i in df.index]
        df.to_hdf(h5, key="df_with_missing", mode="w")
    assert_same_labels(ds, read_dataset(project))


def test_csv_only(dlc_project):
    project, ds = dlc_project
    for h5 in project.glob("labeled-data/*/*.h5"):
        h5.unlink()
    assert_same_labels(ds, read_dataset(project))


def test_h5_only(dlc_project):
    project, ds = dlc_project
    for csv in project.glob("labeled-data/*/*.csv"):
        csv.unlink()
    assert_same_labels(ds, read_dataset(project))


def test_h5_preferred_over_csv(dlc_project):
    project, ds = dlc_project
    csv = project / "labeled-data/vid1/CollectedData_kp.csv"
    csv.write_text(csv.read_text().replace(",", ";"))  # a broken csv is not used
    with pytest.warns(UserWarning, match="CSV is unreadable.*reads the h5"):
        assert_same_labels(ds, read_dataset(project))


def test_h5_with_another_key(dlc_project):
    project, ds = dlc_project
    for h5 in project.glob("labeled-data/*/*.h5"):
        df = pd.read_hdf(h5)
        df.to_hdf(h5, key="keypoints", mode="w")
    assert_same_labels(ds, read_dataset(project))


def test_nan_and_empty_cells_are_unlabelled(dlc_project):
    project, ds = dlc_project
    for h5 in project.glob("labeled-data/*/*.h5"):
        h5.unlink()
    csv = project / "labeled-data/vid1/CollectedData_kp.csv"
    lines = csv.read_text().splitlines()
    cells = lines[3].split(",")
    cells[3], cells[4] = "NaN", " "  # first keypoint x as NaN, y as blank
    lines[3] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    back = read_dataset(project)
    assert np.isnan(back.points[0, 0]).all()
    assert back.n_missing == ds.n_missing + (0 if np.isnan(ds.points[0, 0]).all() else 1)


def test_several_videos_and_unlabelled_folders(dlc_project):
    project, ds = dlc_project
    (project / "labeled-data" / "vid3").mkdir()  # extracted frames, never labelled
    shutil.copy(ds.image_paths[0], project / "labeled-data" / "vid3" / "img0000.png")
    (project / "labeled-data" / "vid1_labeled").mkdir()  # check_labels output
    back = read_dataset(project)
    assert {f.split("/")[1] for f in back.frame_ids} == {"vid1", "vid2"}
    assert back.n_frames == 8


def test_images_without_label_row_are_ignored(dlc_project):
    project, ds = dlc_project
    shutil.copy(ds.image_paths[0], project / "labeled-data/vid1/extra.png")
    back = read_dataset(project)
    assert "labeled-data/vid1/extra.png" not in back.frame_ids
    assert back.n_frames == ds.n_frames


def test_missing_image_dropped_on_request(dlc_project):
    project, ds = dlc_project
    (project / ds.frame_ids[2]).unlink()
    with pytest.warns(UserWarning, match="dropped 1 label row"):
        back = read_dataset(project, missing_images="drop")
    assert ds.frame_ids[2] not in back.frame_ids
    assert back.n_frames == ds.n_frames - 1


def test_prefers_config_scorer_file(dlc_project):
    project, ds = dlc_project
    other = project / "labeled-data/vid1/CollectedData_zz.h5"
    df = pd.read_hdf(project / "labeled-data/vid1/CollectedData_kp.h5") + 1.0
    df.to_hdf(other, key="df_with_missing")
    assert_same_labels(ds, read_dataset(project))


def test_single_individual_multi_animal_header_is_read(tmp_path, small_dataset):
    df = _frame(small_dataset)
    df.columns = pd.MultiIndex.from_tuples(
        [(s, "mouse1", b, c) for s, b, c in df.columns],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    csv = tmp_path / "src" / "CollectedData_x.csv"
    df.to_csv(csv)
    back = read_dataset(csv)
    np.testing.assert_allclose(back.points, small_dataset.points, atol=1e-6, equal_nan=True)


def test_several_individuals_are_not_supported(tmp_path, small_dataset):
    df = _frame(small_dataset)
    df.columns = pd.MultiIndex.from_tuples(
        [(s, f"m{i % 2}", b, c) for i, (s, b, c) in enumerate(df.columns)],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    csv = tmp_path / "src" / "CollectedData_x.csv"
    df.to_csv(csv)
    with pytest.raises(InputError, match=r"multi-animal.*not supported yet") as err:
        read_dataset(csv)
    assert err.value.path == csv.resolve()


def test_likelihood_columns_are_ignored(tmp_path, small_dataset):
    df = _frame(small_dataset)
    for kp in small_dataset.keypoints:
        df[("kp", kp, "likelihood")] = 1.0
    csv = tmp_path / "src" / "CollectedData_x.csv"
    df.to_csv(csv)
    np.testing.assert_allclose(
        read_dataset(csv).points, small_dataset.points, atol=1e-6, equal_nan=True
    )


def _frame(ds: Dataset) -> pd.DataFrame:
    from benchmark.io.dlc import label_frame

    return label_frame(ds, "kp", list(ds.frame_ids))


def test_bare_csv_lightning_pose_style(tmp_path, small_dataset):
    """Lightning Pose ships CollectedData.csv at the dataset root, paths relative to it."""
    df = _frame(small_dataset)
    df.index = ["/".join(i) for i in df.index]
    csv = tmp_path / "src" / "CollectedData.csv"
    df.to_csv(csv)
    back = read_dataset(csv)
    assert back.format == "deeplabcut-csv"
    assert back.frame_ids == small_dataset.frame_ids
    assert back.image_paths == small_dataset.image_paths
    np.testing.assert_allclose(back.points, small_dataset.points, atol=1e-6, equal_nan=True)


def test_bare_label_file_inside_project(dlc_project):
    project, ds = dlc_project
    back = read_dataset(project / "labeled-data/vid2/CollectedData_kp.h5")
    assert back.frame_ids == ds.frame_ids[5:]
    assert all(p.is_file() for p in back.image_paths)


def test_write_dlc_labels_returns_folders(tmp_path, small_dataset):
    out = write_dlc_labels(small_dataset, tmp_path / "p", "me")
    assert list(out) == ["vid1", "vid2"]
    assert out["vid2"] == list(small_dataset.frame_ids[5:])
    assert not (tmp_path / "p" / "config.yaml").exists()


# ----- what the reader must not do silently -----


def test_consistent_project_reads_without_warnings(dlc_project):
    project, ds = dlc_project
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_labels(ds, read_dataset(project))


def _set_bodyparts(project: Path, bodyparts: list[str]) -> Path:
    config = project / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["bodyparts"] = bodyparts
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return config


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda kps: [*kps[:-1], "tail"], r"not in config: tail_base; not in the labels: tail"),
        (lambda kps: kps[::-1], r"same names, other order"),
        (lambda kps: [*kps, "paw"], r"\(not in the labels: paw\)"),
    ],
    ids=["renamed", "reordered", "extra"],
)
def test_config_bodyparts_differing_from_labels_warn(dlc_project, change, expected):
    project, ds = dlc_project
    assert ds.keypoints[-1] == "tail_base"
    config = _set_bodyparts(project, change(list(ds.keypoints)))
    with pytest.warns(UserWarning) as record:
        back = read_dataset(project)
    [w] = [w for w in record if "bodyparts" in str(w.message)]
    message = str(w.message)
    assert message.startswith(f"{config}: bodyparts ")
    assert str(project / "labeled-data/vid1/CollectedData_kp.h5") in message
    assert re.search(expected, message)
    assert "uses the label file's keypoints, in its order" in message
    assert "\n" not in message
    assert back.keypoints == ds.keypoints  # the labels' names, in the labels' order
    assert_same_labels(ds, back)


def _edit_csv_cell(csv: Path, row: int, column: int, value: str) -> None:
    """Overwrite one body cell of a DeepLabCut CSV (3 header rows, 3 index columns)."""
    lines = csv.read_text().splitlines()
    cells = lines[3 + row].split(",")
    cells[3 + column] = value
    lines[3 + row] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")


def test_csv_edited_after_its_h5_warns_and_h5_is_used(dlc_project):
    project, ds = dlc_project
    csv = project / "labeled-data/vid2/CollectedData_kp.csv"
    h5 = csv.with_suffix(".h5")
    j = int(np.flatnonzero(ds.labeled[5])[0])  # a labelled keypoint of vid2's first frame
    _edit_csv_cell(csv, 0, 2 * j, "12.5")
    with pytest.warns(UserWarning) as record:
        back = read_dataset(project)
    [w] = [w for w in record if "CSV twin" in str(w.message)]
    message = str(w.message)
    assert message.startswith(f"{h5}: disagrees with its CSV twin {csv.name} ")
    assert f"1 label(s) differ, e.g. 'labeled-data/vid2/img0000.png' {ds.keypoints[j]!r}" in message
    assert "kpbench reads the h5, as DeepLabCut does" in message
    assert f"deeplabcut.convertcsv2h5({str(project / 'config.yaml')!r}" in message
    assert "\n" not in message
    assert_same_labels(ds, back)  # the h5's labels


def test_csv_with_an_extra_or_cleared_label_warns(dlc_project):
    project, ds = dlc_project
    csv = project / "labeled-data/vid1/CollectedData_kp.csv"
    i, j = (int(v) for v in np.argwhere(~ds.labeled[:5])[0])  # an unlabelled point of vid1
    _edit_csv_cell(csv, i, 2 * j, "3.0")
    _edit_csv_cell(csv, i, 2 * j + 1, "4.0")
    with pytest.warns(UserWarning, match=r"h5 unlabelled, CSV \(3\.0, 4\.0\)"):
        read_dataset(project)


def test_csv_with_rows_the_h5_lacks_warns_once(dlc_project):
    project, _ = dlc_project
    for csv in project.glob("labeled-data/*/CollectedData_kp.csv"):
        lines = csv.read_text().splitlines()
        csv.write_text("\n".join(lines[:-1]) + "\n")  # drop the last row from each CSV
    with pytest.warns(UserWarning) as record:
        read_dataset(project)
    stale = [str(w.message) for w in record if "CSV twin" in str(w.message)]
    assert len(stale) == 1
    assert "1 row(s) only in the h5, e.g. 'labeled-data/vid1/img0004.png'" in stale[0]
    assert "(and 1 more folder(s) like it)" in stale[0]


def test_csv_rounding_noise_or_half_label_is_not_a_disagreement(dlc_project):
    project, ds = dlc_project
    csv = project / "labeled-data/vid1/CollectedData_kp.csv"
    j = int(np.flatnonzero(ds.labeled[0])[0])
    _edit_csv_cell(csv, 0, 2 * j, f"{ds.points[0, j, 0] + 1e-6:.9f}")
    i, k = (int(v) for v in np.argwhere(~ds.labeled[:5])[0])
    _edit_csv_cell(csv, i, 2 * k, "3.0")  # x without y: unlabelled in either file
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_dataset(project)


# ----- the real open-field mouse project -----


def test_openfield_mouse(openfield_mouse_dir):
    ds = read_dataset(openfield_mouse_dir)
    assert ds.n_frames == 116
    assert ds.keypoints == ("snout", "leftear", "rightear", "tailbase")
    assert ds.image_size() == (640, 480)
    assert ds.n_missing == 0
    assert ds.frame_ids[0] == "labeled-data/m4s1/img0000.png"
    assert ds.meta["scorer"] == "Pranav"


def test_openfield_csv_and_h5_agree(openfield_mouse_dir):
    folder = openfield_mouse_dir / "labeled-data" / "m4s1"
    csv = read_label_csv(folder / "CollectedData_Pranav.csv")
    h5 = read_label_h5(folder / "CollectedData_Pranav.h5")
    assert csv.paths == h5.paths
    assert csv.keypoints == h5.keypoints
    np.testing.assert_allclose(csv.points, h5.points, atol=1e-9)
    via_csv = read_dataset(folder / "CollectedData_Pranav.csv")
    assert via_csv.content_hash() == read_dataset(openfield_mouse_dir).content_hash()


def test_openfield_round_trip(tmp_path, openfield_mouse_dir):
    ds = read_dataset(openfield_mouse_dir).subset(
        [f"labeled-data/m4s1/img{i:04d}.png" for i in range(5)]
    )
    back = read_dataset(write_dlc_project(ds, tmp_path / "p", scorer="Pranav"))
    assert_same_labels(ds, back)
