"""COCO keypoints json."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from benchmark.errors import InputError
from benchmark.io import detect_format, read_dataset


def coco_dict(ds, file_names) -> dict:
    """A COCO keypoints dict for ``ds`` (visibility 2, or 0 with zeros where unlabelled)."""
    annotations = []
    for i, pts in enumerate(ds.points):
        flat = []
        for x, y in pts:
            flat += [0, 0, 0] if np.isnan(x) else [float(x), float(y), 2]
        annotations.append({"id": 100 + i, "image_id": i + 1, "category_id": 1, "keypoints": flat})
    return {
        "images": [
            {"id": i + 1, "file_name": f, "width": 40, "height": 32}
            for i, f in enumerate(file_names)
        ],
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": "mouse",
                "keypoints": list(ds.keypoints),
                "skeleton": [[a + 1, b + 1] for a, b in ds.skeleton.edges],
            }
        ],
    }


def test_read_coco(tmp_path, small_dataset):
    root = tmp_path / "src"
    path = root / "ann.json"
    path.write_text(json.dumps(coco_dict(small_dataset, small_dataset.frame_ids)))
    assert detect_format(path) == "coco"
    ds = read_dataset(path)
    assert ds.format == "coco"
    assert ds.keypoints == small_dataset.keypoints
    assert ds.skeleton.edges == small_dataset.skeleton.edges
    assert ds.frame_ids == small_dataset.frame_ids
    assert ds.image_paths == small_dataset.image_paths
    np.testing.assert_allclose(ds.points, small_dataset.points, atol=1e-6, equal_nan=True)
    assert ds.n_missing == small_dataset.n_missing > 0


def test_images_sibling_folder(tmp_path, small_dataset):
    (tmp_path / "images").mkdir()
    names = []
    for p in small_dataset.image_paths:
        name = f"{p.parent.name}_{p.name}"
        shutil.copy(p, tmp_path / "images" / name)
        names.append(name)
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(coco_dict(small_dataset, names)))
    ds = read_dataset(path)
    assert ds.image_paths[0] == tmp_path / "images" / names[0]


def test_images_without_annotation_are_skipped(tmp_path, small_dataset):
    data = coco_dict(small_dataset, small_dataset.frame_ids)
    data["annotations"] = data["annotations"][:5]
    path = tmp_path / "src" / "ann.json"
    path.write_text(json.dumps(data))
    assert read_dataset(path).n_frames == 5


def test_several_annotations_on_one_image(tmp_path, small_dataset):
    data = coco_dict(small_dataset, small_dataset.frame_ids)
    data["annotations"].append(dict(data["annotations"][0], id=999))
    path = tmp_path / "src" / "ann.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="several annotations") as err:
        read_dataset(path)
    assert err.value.path == path.resolve()


def test_wrong_keypoint_count(tmp_path, small_dataset):
    data = coco_dict(small_dataset, small_dataset.frame_ids)
    data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:-3]
    path = tmp_path / "src" / "ann.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="keypoint values") as err:
        read_dataset(path)
    assert err.value.path == path.resolve()
