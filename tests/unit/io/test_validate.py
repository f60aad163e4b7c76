"""Bad input: every case gets an InputError whose path names the offending file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import InputError
from benchmark.io import read_dataset

H5_VID1 = "labeled-data/vid1/CollectedData_kp.h5"
CSV_VID1 = "labeled-data/vid1/CollectedData_kp.csv"


def only_csv(project) -> None:
    for h5 in project.glob("labeled-data/*/*.h5"):
        h5.unlink()


def test_missing_image(dlc_project):
    project, ds = dlc_project
    (project / ds.frame_ids[1]).unlink()
    with pytest.raises(InputError, match="missing image") as err:
        read_dataset(project)
    assert err.value.path == project / H5_VID1
    assert ds.frame_ids[1] in err.value.problem


def test_missing_every_image_even_when_dropping(dlc_project):
    project, ds = dlc_project
    for f in ds.frame_ids:
        (project / f).unlink()
    with pytest.raises(InputError, match="none of the 8"):
        read_dataset(project, missing_images="drop")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_image(dlc_project, damage):
    project, ds = dlc_project
    img = project / ds.frame_ids[2]
    data = img.read_bytes()
    img.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00" * 200)
    with pytest.raises(InputError, match="corrupt") as err:
        read_dataset(project)
    assert err.value.path == img


def test_csv_with_wrong_header_levels(dlc_project):
    project, _ = dlc_project
    only_csv(project)
    csv = project / CSV_VID1
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[1:]) + "\n")  # no scorer row
    with pytest.raises(InputError, match="header") as err:
        read_dataset(project)
    assert err.value.path == csv


def test_h5_with_wrong_header_levels(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    df = pd.read_hdf(h5).droplevel(0, axis=1)
    df.to_hdf(h5, key="df_with_missing", mode="w")
    with pytest.raises(InputError, match="3-level") as err:
        read_dataset(project)
    assert err.value.path == h5


def test_csv_with_text_in_a_number_cell(dlc_project):
    project, _ = dlc_project
    only_csv(project)
    csv = project / CSV_VID1
    csv.write_text(csv.read_text().replace("img0001.png,", "img0001.png,abc", 1))
    with pytest.raises(InputError, match="not a number") as err:
        read_dataset(project)
    assert err.value.path == csv


def test_h5_with_no_usable_table(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    with pd.HDFStore(h5, mode="w") as store:
        store.put("a", pd.DataFrame({"x": [1.0]}))
        store.put("b", pd.DataFrame({"y": [2.0]}))
    with pytest.raises(InputError, match="several tables") as err:
        read_dataset(project)
    assert err.value.path == h5


def test_h5_empty_or_not_hdf5(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    h5.write_bytes(b"this is not hdf5")
    with pytest.raises(InputError, match="not a readable") as err:
        read_dataset(project)
    assert err.value.path == h5
    pd.HDFStore(h5, mode="w").close()  # valid HDF5, no table
    with pytest.raises(InputError, match="no pandas table") as err:
        read_dataset(project)
    assert err.value.path == h5


def test_h5_holding_a_series(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    pd.Series([1.0, 2.0]).to_hdf(h5, key="df_with_missing", mode="w")
    with pytest.raises(InputError, match="not a table") as err:
        read_dataset(project)
    assert err.value.path == h5


def test_mismatched_keypoints_between_files(dlc_project):
    project, _ = dlc_project
    h5 = project / "labeled-data/vid2/CollectedData_kp.h5"
    df = pd.read_hdf(h5)
    df.columns = df.columns.set_levels(["nose", "left_ear", "right_ear", "tail_base"], level=1)
    df.to_hdf(h5, key="df_with_missing", mode="w")
    with pytest.raises(InputError, match="keypoints") as err:
        read_dataset(project)
    assert err.value.path == h5
    assert str(project / H5_VID1) in err.value.problem


def test_duplicate_frames_in_one_file(dlc_project):
    project, _ = dlc_project
    only_csv(project)
    csv = project / CSV_VID1
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[3]]) + "\n")
    with pytest.raises(InputError, match="labelled twice") as err:
        read_dataset(project)
    assert err.value.path == csv


def test_duplicate_frames_across_files(dlc_project):
    project, _ = dlc_project
    h5 = project / "labeled-data/vid2/CollectedData_kp.h5"
    df = pd.read_hdf(h5)
    df.index = pd.MultiIndex.from_tuples([("labeled-data", "vid1", "img0000.png"), *df.index[1:]])
    df.to_hdf(h5, key="df_with_missing", mode="w")
    with pytest.raises(InputError, match="labelled twice") as err:
        read_dataset(project)
    assert err.value.path == h5


def test_duplicate_frames_in_bare_csv(tmp_path, dlc_project):
    project, _ = dlc_project
    csv = project / CSV_VID1
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[4]]) + "\n")
    with pytest.raises(InputError, match="labelled twice") as err:
        read_dataset(csv)
    assert err.value.path == csv


def test_empty_dataset_csv_without_rows(dlc_project):
    project, _ = dlc_project
    csv = project / CSV_VID1
    csv.write_text("\n".join(csv.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(InputError, match="empty") as err:
        read_dataset(csv)
    assert err.value.path == csv


def test_empty_project(dlc_project):
    project, _ = dlc_project
    for f in project.glob("labeled-data/*/CollectedData_*"):
        f.unlink()
    with pytest.raises(InputError, match="no labelled frames") as err:
        read_dataset(project)
    assert err.value.path == project


def test_empty_coco(tmp_path):
    path = tmp_path / "ann.json"
    data = {"images": [], "annotations": [], "categories": [{"id": 1, "keypoints": ["a", "b"]}]}
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="empty") as err:
        read_dataset(path)
    assert err.value.path == path


def test_labels_far_outside_the_image(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    df = pd.read_hdf(h5)
    df.iloc[3, 2] = 40 * 1.25  # left_ear x of img0003, image is 40 px wide
    df.to_hdf(h5, key="df_with_missing", mode="w")
    df.to_csv(h5.with_suffix(".csv"))  # keep the CSV twin in step
    with pytest.raises(InputError, match="far outside") as err:
        read_dataset(project)
    assert err.value.path == h5
    assert "labeled-data/vid1/img0003.png" in err.value.problem
    assert "left_ear" in err.value.problem


def test_labels_slightly_outside_are_accepted(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    df = pd.read_hdf(h5)
    df.iloc[3, 2], df.iloc[3, 3] = -3.0, 32 * 1.05
    df.to_hdf(h5, key="df_with_missing", mode="w")
    df.to_csv(h5.with_suffix(".csv"))  # keep the CSV twin in step
    ds = read_dataset(project)
    assert ds.points[3, 1, 0] == -3.0


def test_infinite_label(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    df = pd.read_hdf(h5)
    df.iloc[0, 0], df.iloc[0, 1] = np.inf, 3.0
    df.to_hdf(h5, key="df_with_missing", mode="w")
    df.to_csv(h5.with_suffix(".csv"))  # keep the CSV twin in step
    with pytest.raises(InputError, match="infinite"):
        read_dataset(project)


def test_unknown_format(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("hello")
    with pytest.raises(InputError, match="unknown dataset format") as err:
        read_dataset(path)
    assert err.value.path == path


def test_json_that_is_not_coco(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"frames": []}))
    with pytest.raises(InputError, match="not COCO") as err:
        read_dataset(path)
    assert err.value.path == path


def test_folder_that_is_not_a_project(tmp_path):
    with pytest.raises(InputError, match="unknown dataset format") as err:
        read_dataset(tmp_path)
    assert err.value.path == tmp_path


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file") as err:
        read_dataset(tmp_path / "nope")
    assert err.value.path == tmp_path / "nope"


def test_multi_animal_project(dlc_project):
    project, _ = dlc_project
    config = project / "config.yaml"
    text = config.read_text().replace("multianimalproject: false", "multianimalproject: true")
    config.write_text(text)
    with pytest.raises(InputError, match="multi-animal") as err:
        read_dataset(project)
    assert err.value.path == config


def test_keypoint_without_y_column(dlc_project):
    project, _ = dlc_project
    h5 = project / H5_VID1
    df = pd.read_hdf(h5).drop(columns=[("kp", "snout", "y")])
    df.to_hdf(h5, key="df_with_missing", mode="w")
    with pytest.raises(InputError, match="no 'y' column") as err:
        read_dataset(project)
    assert err.value.path == h5
