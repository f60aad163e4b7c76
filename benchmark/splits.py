"""Train/val/test splits made once by the harness and stored as JSON.

Every adapter gets exactly the frames of a split; adapters never split. A split file records
the dataset's content hash, so loading it against a changed dataset is an error. The same
dataset and seed always give a byte-identical file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmark.dataset import Dataset
from benchmark.errors import InputError
from benchmark.paths import atomic_write_text

METHODS = ("random", "kfold")
_KEYS = ("dataset", "dataset_hash", "seed", "method", "fold", "train", "val", "test")


@dataclass(frozen=True)
class Split:
    """One train/val/test partition of a dataset's frames (frame ids in dataset order).

    Attributes:
        dataset: Dataset name.
        dataset_hash: ``Dataset.content_hash()`` of the dataset the split was made for.
        seed: Seed of the random permutation.
        method: ``"random"`` (fractions) or ``"kfold"``.
        fold: Fold index (0 for a random split).
        train: Training frame ids.
        val: Validation frame ids (may be empty).
        test: Test frame ids.
    """

    dataset: str
    dataset_hash: str
    seed: int
    method: str
    fold: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            object.__setattr__(self, name, tuple(str(f) for f in getattr(self, name)))

    def to_json(self) -> dict:
        """The split as a JSON-ready object (the split file's record)."""
        record = asdict(self)
        for name in ("train", "val", "test"):
            record[name] = list(record[name])
        return record


def _count(n: int, fraction: float) -> int:
    """Frames for ``fraction`` of ``n``, rounded half up, at least 1 when fraction > 0."""
    if fraction <= 0:
        return 0
    return max(1, math.floor(n * fraction + 0.5))


def _check_fraction(name: str, value: float, *, allow_zero: bool) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be in {bound}, got {value}")


def make_splits(
    ds: Dataset,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.0,
    seed: int = 0,
    folds: int | None = None,
) -> list[Split]:
    """Split a dataset's frames at random (one split) or into k folds (one split per fold).

    Args:
        ds: The dataset.
        test_fraction: Share of frames for testing (random split only; ignored with ``folds``).
        val_fraction: Share of frames for validation; with ``folds``, the share of each fold's
            non-test frames.
        seed: Seed of the permutation; the same dataset and seed give the same splits.
        folds: Number of folds for k-fold cross-validation; test parts are disjoint and cover
            every frame.

    Returns:
        One ``Split`` for a random split, ``folds`` splits for k-fold.

    Raises:
        ValueError: A fraction is out of range, or train or test would be empty.
    """
    n = ds.n_frames
    rng = np.random.default_rng(seed)
    digest = ds.content_hash()
    _check_fraction("val_fraction", val_fraction, allow_zero=True)

    def split(method: str, fold: int, test: np.ndarray, val: np.ndarray) -> Split:
        rest = np.setdiff1d(np.arange(n), np.concatenate([test, val]))
        if len(rest) == 0:
            raise ValueError(
                f"dataset {ds.name!r} has {n} frames: this split leaves no training frames"
            )

        def ids(idx: np.ndarray) -> tuple[str, ...]:
            return tuple(ds.frame_ids[i] for i in np.sort(idx))

        return Split(ds.name, digest, seed, method, fold, ids(rest), ids(val), ids(test))

    if folds is None:
        _check_fraction("test_fraction", test_fraction, allow_zero=False)
        if test_fraction + val_fraction >= 1:
            raise ValueError(
                f"test_fraction + val_fraction must be below 1, got "
                f"{test_fraction} + {val_fraction}"
            )
        order = rng.permutation(n)
        n_test, n_val = _count(n, test_fraction), _count(n, val_fraction)
        return [split("random", 0, order[:n_test], order[n_test : n_test + n_val])]

    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if folds > n:
        raise ValueError(f"dataset {ds.name!r} has {n} frames, too few for {folds} folds")
    parts = np.array_split(rng.permutation(n), folds)
    splits = []
    for fold, test in enumerate(parts):
        rest = rng.permutation(np.concatenate([p for i, p in enumerate(parts) if i != fold]))
        splits.append(split("kfold", fold, test, rest[: _count(len(rest), val_fraction)]))
    return splits


def dumps_splits(splits: Split | Sequence[Split]) -> str:
    """The split file's text: one object for a single random split, else an array."""
    if isinstance(splits, Split):
        splits = [splits]
    if not splits:
        raise ValueError("no splits to save")
    records = [s.to_json() for s in splits]
    single = len(records) == 1 and splits[0].method != "kfold"
    return json.dumps(records[0] if single else records, indent=2, sort_keys=True) + "\n"


def save_splits(splits: Split | Sequence[Split], path: str | Path) -> None:
    """Write a split file atomically; the same splits always give the same bytes."""
    atomic_write_text(path, dumps_splits(splits))


def _parse_record(path: Path, record: object, where: str) -> Split:
    if not isinstance(record, dict):
        raise InputError(path, f"{where} is not a JSON object")
    missing = [k for k in _KEYS if k not in record]
    if missing:
        raise InputError(path, f"{where} lacks key(s) {', '.join(missing)}; not a split file")
    for key in ("train", "val", "test"):
        value = record[key]
        if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
            raise InputError(path, f"{where}: {key!r} must be a list of frame ids")
    for key in ("seed", "fold"):
        if isinstance(record[key], bool) or not isinstance(record[key], int):
            raise InputError(path, f"{where}: {key!r} must be an integer")
    if record["method"] not in METHODS:
        raise InputError(path, f"{where}: unknown method {record['method']!r}")
    if not record["train"] or not record["test"]:
        raise InputError(path, f"{where}: train and test must not be empty")
    parts = [set(record[k]) for k in ("train", "val", "test")]
    if sum(len(p) for p in parts) != len(set().union(*parts)):
        raise InputError(path, f"{where}: train, val and test share frames")
    return Split(**{k: record[k] for k in _KEYS})


def load_splits(path: str | Path, ds: Dataset | None = None) -> list[Split]:
    """Read a split file (one object or an array of them).

    Args:
        path: The split file.
        ds: When given, the split must have been made for this dataset (same content hash) and
            name only its frames.

    Raises:
        InputError: The file is unreadable, not a split file, or made for another dataset.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read split file: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"split file is not valid JSON: {e}") from e
    records = data if isinstance(data, list) else [data]
    if not records:
        raise InputError(path, "split file holds no splits")
    splits = [
        _parse_record(path, r, "split" if len(records) == 1 else f"split {i}")
        for i, r in enumerate(records)
    ]
    if ds is not None:
        digest = ds.content_hash()
        known = set(ds.frame_ids)
        for s in splits:
            if s.dataset_hash != digest:
                raise InputError(
                    path,
                    f"split file was made for dataset {s.dataset} with hash "
                    f"{s.dataset_hash[:12]}, this dataset has {digest[:12]}",
                )
            for fid in (*s.train, *s.val, *s.test):
                if fid not in known:
                    raise InputError(path, f"frame {fid!r} is not in dataset {ds.name!r}")
    return splits
