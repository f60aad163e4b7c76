"""Train/val/test splits made once by the harness and stored as JSON.

Every adapter gets exactly the frames of a split; adapters never split. A split file records
the dataset's content hash, so loading it against a changed dataset is an error. The same
dataset and seed always give a byte-identical file.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
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
        train_subsets: Label efficiency: nested subsets of ``train`` (smallest first, each
            inside the next), drawn by :func:`with_train_subsets`; empty when the run has no
            ``train_sizes``.
        inner_tests: Nested cross-validation: the test part of each inner fold of
            ``train`` (disjoint, covering it), drawn by :func:`with_inner_folds`; empty when
            no adapter selects by validation.
    """

    dataset: str
    dataset_hash: str
    seed: int
    method: str
    fold: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    train_subsets: tuple[tuple[str, ...], ...] = ()
    inner_tests: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            object.__setattr__(self, name, tuple(str(f) for f in getattr(self, name)))
        subsets = tuple(tuple(str(f) for f in s) for s in self.train_subsets)
        object.__setattr__(self, "train_subsets", subsets)
        train = set(self.train)
        chain = (*subsets, self.train)
        for small, large in itertools.pairwise(chain):
            if not small or len(small) >= len(large) or not set(small) <= set(large) & train:
                raise ValueError("train_subsets must be nested, growing subsets of train")
        inner = tuple(tuple(str(f) for f in part) for part in self.inner_tests)
        object.__setattr__(self, "inner_tests", inner)
        flat = [f for part in inner for f in part]
        if inner and (sorted(flat) != sorted(self.train) or not all(inner)):
            raise ValueError("inner_tests must be non-empty parts that cover train exactly once")

    def inner(self, index: int) -> Split:
        """Inner fold ``index``: trained on the rest of this split's training frames and
        tested on that fold's part of them; never on this split's test frames."""
        test = self.inner_tests[index]
        held = set(test)
        train = tuple(f for f in self.train if f not in held)
        return replace(self, train=train, test=test, train_subsets=(), inner_tests=())

    def subset(self, size: int) -> Split:
        """This split with only the ``size`` training frames of its nested subset."""
        for frames in (*self.train_subsets, self.train):
            if len(frames) == size:
                return replace(self, train=frames, train_subsets=(), inner_tests=())
        raise KeyError(f"fold {self.fold} has no training subset of {size} frames")

    def to_json(self) -> dict:
        """The split as a JSON-ready object (the split file's record)."""
        record = asdict(self)
        for name in ("train", "val", "test"):
            record[name] = list(record[name])
        # Files of runs without either stay as they were.
        for key in ("train_subsets", "inner_tests"):
            if getattr(self, key):
                record[key] = [list(s) for s in getattr(self, key)]
            else:
                del record[key]
        return record


def subset_sizes(sizes: Sequence[int | float], n_train: int, fold: int = 0) -> list[int]:
    """Training-set sizes in frames, below ``n_train``, smallest first (no duplicates).

    Args:
        sizes: Counts (int) or fractions of ``n_train`` (float in (0, 1]; ``1.0`` is all).
        n_train: Frames in the fold's training set.
        fold: The fold, for the error message.

    Raises:
        ValueError: A count is larger than the fold's training set.
    """
    counts = set()
    for size in sizes:
        count = size if isinstance(size, int) else _count(n_train, float(size))
        if count > n_train:
            raise ValueError(
                f"training size {size} is larger than fold {fold}'s {n_train} training frames"
            )
        counts.add(count)
    return sorted(c for c in counts if c < n_train)


def with_train_subsets(split: Split, sizes: Sequence[int | float]) -> Split:
    """``split`` with nested training subsets of ``sizes`` (see :func:`subset_sizes`).

    One seeded permutation of the fold's training frames; each subset is its first ``n``
    frames (so every smaller subset lies inside every larger one), kept in dataset order.
    The same split and sizes always give the same subsets.
    """
    counts = subset_sizes(sizes, len(split.train), split.fold)
    order = np.random.default_rng([split.seed, split.fold, 1]).permutation(len(split.train))
    subsets = tuple(tuple(split.train[i] for i in np.sort(order[:count])) for count in counts)
    return replace(split, train_subsets=subsets)


def with_inner_folds(split: Split, folds: int) -> Split:
    """``split`` with ``folds`` inner folds of its training frames (seeded, disjoint test
    parts covering them), for choosing settings without its test frames.

    Raises:
        ValueError: Fewer than two training frames per inner fold.
    """
    n = len(split.train)
    if n < 2 * folds:
        raise ValueError(
            f"fold {split.fold} has {n} training frames, too few for {folds} inner folds "
            f"(select_by needs at least {2 * folds})"
        )
    order = np.random.default_rng([split.seed, split.fold, 2]).permutation(n)
    parts = tuple(
        tuple(split.train[i] for i in np.sort(part)) for part in np.array_split(order, folds)
    )
    return replace(split, inner_tests=parts)


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
    extra = {}
    for key in ("train_subsets", "inner_tests"):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(s, list) and all(isinstance(f, str) for f in s) for s in value
        ):
            raise InputError(path, f"{where}: {key!r} must be lists of frame ids")
        extra[key] = tuple(map(tuple, value))
    parts = [set(record[k]) for k in ("train", "val", "test")]
    if sum(len(p) for p in parts) != len(set().union(*parts)):
        raise InputError(path, f"{where}: train, val and test share frames")
    try:
        return Split(**{k: record[k] for k in _KEYS}, **extra)
    except ValueError as exc:
        raise InputError(path, f"{where}: {exc}") from None


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
