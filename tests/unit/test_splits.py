"""Splits: seeded random and k-fold partitions, the split file, loading against a dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.splits import Split, load_splits, make_splits, save_splits


def make_ds(n: int = 50, name: str = "toy", seed: int = 0) -> Dataset:
    """``n`` frames with random labels; the images need not exist for splitting."""
    rng = np.random.default_rng(seed)
    ids = [f"labeled-data/v{i % 3}/img{i:04d}.png" for i in range(n)]
    return Dataset(
        name=name,
        skeleton=Skeleton(("a", "b")),
        frame_ids=tuple(ids),
        image_paths=tuple(Path("/nonexistent") / f for f in ids),
        points=rng.uniform(0, 100, (n, 2, 2)),
    )


def in_dataset_order(ds: Dataset, ids: tuple[str, ...]) -> bool:
    idx = ds.index_of(ids)
    return bool(np.all(np.diff(idx) > 0))


def test_random_split_partitions_all_frames_in_dataset_order():
    ds = make_ds(50)
    (s,) = make_splits(ds, test_fraction=0.2, val_fraction=0.1, seed=3)
    assert (s.method, s.fold, s.seed, s.dataset) == ("random", 0, 3, "toy")
    assert s.dataset_hash == ds.content_hash()
    assert (len(s.train), len(s.val), len(s.test)) == (35, 5, 10)
    assert set(s.train) | set(s.val) | set(s.test) == set(ds.frame_ids)
    assert len(set(s.train) | set(s.val) | set(s.test)) == 50
    for part in (s.train, s.val, s.test):
        assert in_dataset_order(ds, part)


def test_random_split_is_seeded():
    ds = make_ds(50)
    a = make_splits(ds, seed=1)
    assert make_splits(ds, seed=1) == a
    assert make_splits(ds, seed=2)[0].test != a[0].test


def test_no_val_by_default_and_tiny_fraction_still_gives_a_test_frame():
    ds = make_ds(10)
    (s,) = make_splits(ds, test_fraction=0.01)
    assert s.val == ()
    assert len(s.test) == 1 and len(s.train) == 9


def test_kfold_test_parts_are_disjoint_and_cover_all_frames():
    ds = make_ds(23)
    splits = make_splits(ds, folds=5, val_fraction=0.1, seed=0)
    assert [s.fold for s in splits] == [0, 1, 2, 3, 4]
    assert all(s.method == "kfold" for s in splits)
    tests = [set(s.test) for s in splits]
    assert sum(len(t) for t in tests) == 23
    assert set().union(*tests) == set(ds.frame_ids)
    assert sorted(len(t) for t in tests) == [4, 4, 5, 5, 5]
    for s in splits:
        parts = [set(s.train), set(s.val), set(s.test)]
        assert sum(len(p) for p in parts) == 23
        assert set().union(*parts) == set(ds.frame_ids)
        assert len(s.val) == round(0.1 * (23 - len(s.test)))
        for part in (s.train, s.val, s.test):
            assert in_dataset_order(ds, part)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"test_fraction": 0.6, "val_fraction": 0.4}, "below 1"),
        ({"folds": 1}, "folds"),
        ({"folds": 2.5}, "folds"),
        ({"folds": 11}, "too few"),
        ({"folds": 2, "val_fraction": 0.99}, "no training frames"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_splits(make_ds(10), **kwargs)


def test_two_frames_leave_no_training_frames_with_a_val_set():
    with pytest.raises(ValueError, match="no training frames"):
        make_splits(make_ds(2), test_fraction=0.4, val_fraction=0.4)


def test_split_file_is_byte_identical_for_same_dataset_and_seed(tmp_path):
    ds = make_ds(30)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save_splits(make_splits(ds, seed=7), a)
    save_splits(make_splits(make_ds(30), seed=7), b)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().endswith("}\n")
    save_splits(make_splits(ds, seed=8), b)
    assert a.read_bytes() != b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]  # no temp files


def test_single_split_file_is_one_object_and_roundtrips(tmp_path):
    ds = make_ds(20)
    splits = make_splits(ds, val_fraction=0.2, seed=4)
    path = tmp_path / "split.json"
    save_splits(splits, path)
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    assert sorted(data) == sorted(
        ["dataset", "dataset_hash", "seed", "method", "fold", "train", "val", "test"]
    )
    assert data["test"] == list(splits[0].test)
    assert load_splits(path, ds) == splits
    assert load_splits(path) == splits


def test_kfold_split_file_is_an_array_and_roundtrips(tmp_path):
    ds = make_ds(20)
    splits = make_splits(ds, folds=4, seed=1)
    path = tmp_path / "split.json"
    save_splits(splits, path)
    data = json.loads(path.read_text())
    assert isinstance(data, list) and [d["fold"] for d in data] == [0, 1, 2, 3]
    loaded = load_splits(path, ds)
    assert loaded == splits
    assert all(isinstance(s, Split) for s in loaded)


def test_blob_dataset_split(blob_dataset, tmp_path):
    (s,) = make_splits(blob_dataset, test_fraction=0.25, seed=0)
    assert len(s.test) == 3 and len(s.train) == 9
    save_splits(s, tmp_path / "s.json")
    assert load_splits(tmp_path / "s.json", blob_dataset) == [s]


def test_loading_against_changed_dataset_is_an_error(tmp_path):
    ds = make_ds(20)
    path = tmp_path / "split.json"
    save_splits(make_splits(ds), path)
    changed = ds.with_points(ds.points + 1.0)
    with pytest.raises(InputError) as info:
        load_splits(path, changed)
    err = info.value
    assert err.path == path
    assert err.problem == (
        f"split file was made for dataset toy with hash {ds.content_hash()[:12]}, "
        f"this dataset has {changed.content_hash()[:12]}"
    )


def test_loading_with_unknown_frame_is_an_error(tmp_path):
    ds = make_ds(20)
    path = tmp_path / "split.json"
    save_splits(make_splits(ds), path)
    data = json.loads(path.read_text())
    data["test"][0] = "labeled-data/v9/other.png"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"'labeled-data/v9/other\.png' is not in dataset"):
        load_splits(path, ds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "no splits"),
        ('"a string"', "not a JSON object"),
        ('{"dataset": "x", "seed": 0}', "lacks key"),
    ],
)
def test_unreadable_split_files(tmp_path, text, message):
    path = tmp_path / "split.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_splits(path)
    assert info.value.path == path


def test_split_file_with_overlap_or_bad_types_is_an_error(tmp_path):
    ds = make_ds(10)
    path = tmp_path / "split.json"
    record = make_splits(ds)[0].to_json()
    path.write_text(json.dumps({**record, "val": [record["test"][0]]}))
    with pytest.raises(InputError, match="share frames"):
        load_splits(path)
    path.write_text(json.dumps({**record, "seed": "zero"}))
    with pytest.raises(InputError, match="'seed' must be an integer"):
        load_splits(path)
    path.write_text(json.dumps({**record, "method": "stratified"}))
    with pytest.raises(InputError, match="unknown method"):
        load_splits(path)
    path.write_text(json.dumps({**record, "test": []}))
    with pytest.raises(InputError, match="must not be empty"):
        load_splits(path)


def test_missing_split_file(tmp_path):
    with pytest.raises(InputError, match="cannot read split file"):
        load_splits(tmp_path / "nope.json")
