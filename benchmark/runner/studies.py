"""The studies a run config can add to its jobs: label efficiency (the training subsets of
:func:`benchmark.splits.with_train_subsets`), cross-dataset tests and nested
cross-validation of a sweep.

Everything here is computed by the harness from stored files: a transfer is scored from the
predictions the worker wrote on the other dataset's test frames, and a sweep point is chosen
from the inner-fold jobs' ``job.json`` metrics, never from a test frame of the outer fold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.dataset import Dataset
from benchmark.errors import InputError
from benchmark.paths import atomic_write_text
from benchmark.records import JobRecord, read_record
from benchmark.runner.config import AdapterSpec, RunConfig, TransferSpec
from benchmark.runner.jobs import Job, job_dir
from benchmark.splits import Split

#: The error a sweep point is chosen by (lower is better): every labelled keypoint, a miss
#: counted at the miss penalty, as the report ranks adapters.
SELECTION_METRIC = "mean_px_all"


# ----------------------------------------------------------------------------- sizes
def subset_jobs(
    point: AdapterSpec, dataset: str, split: Split, seed: int
) -> list[tuple[Job, Split]]:
    """The label-efficiency jobs of one full job: one per training subset of the fold.

    Each trains for as many training samples as the whole training set does: an adapter
    with an ``epochs`` option gets ``epochs * full / size`` of them (rounded up), so that a
    smaller set is not also a shorter training. The run's budget still caps every job.
    """
    from benchmark.registry import load_class

    resolved = load_class(point.name).resolve_config(point.config)
    jobs = []
    for frames in split.train_subsets:
        size = len(frames)
        adapter = point
        if "epochs" in resolved:
            epochs = math.ceil(int(resolved["epochs"]) * len(split.train) / size)
            adapter = replace(point, config={**point.config, "epochs": epochs})
        jobs.append((Job(dataset, split.fold, adapter, seed, size), split.subset(size)))
    return jobs


# ----------------------------------------------------------------------------- transfer
@dataclass(frozen=True)
class Transfer:
    """One cross-dataset test of a job: its model predicts ``test``'s frames.

    Attributes:
        spec: The config's entry (datasets and keypoint mapping).
        test: The test dataset's test frames (every fold's), with their labels.
    """

    spec: TransferSpec
    test: Dataset

    def as_training_frames(self, train: Dataset) -> Dataset:
        """The test frames as the trained model sees them: the training dataset's
        skeleton, no labels."""
        n = self.test.n_frames
        return Dataset(
            name=self.test.name,
            skeleton=train.skeleton,
            frame_ids=self.test.frame_ids,
            image_paths=self.test.image_paths,
            points=np.full((n, train.n_keypoints, 2), np.nan),
            source=self.test.source,
            format=self.test.format,
            meta=self.test.meta,
        )

    def pairs(self, train: Dataset) -> list[tuple[str, str]]:
        """``(train keypoint, test keypoint)`` pairs scored, in the test dataset's order."""
        back = {b: a for a, b in self.spec.keypoints.items()}
        return [(back[b], b) for b in self.test.keypoints if b in back]

    def left_out(self, train: Dataset) -> dict[str, list[str]]:
        """Keypoints of each dataset without a partner (not scored)."""
        return {
            "train": [k for k in train.keypoints if k not in self.spec.keypoints],
            "test": [k for k in self.test.keypoints if k not in self.spec.keypoints.values()],
        }

    def mapped(self, train: Dataset, pred: np.ndarray) -> tuple[Dataset, np.ndarray]:
        """The scored part of the test frames' labels and the predictions for it:
        ``(labels on the paired test keypoints, predictions (n, pairs, 3))``."""
        pairs = self.pairs(train)
        gt = self.test.with_keypoints([b for _, b in pairs])
        return gt, pred[:, [train.keypoints.index(a) for a, _ in pairs]]


def check_transfers(config: RunConfig, datasets: dict[str, tuple[Dataset, list[Split]]]) -> None:
    """Every transfer's keypoint mapping names keypoints of its two datasets.

    A transfer whose dataset was skipped (optional, not available) is not checked.

    Raises:
        InputError: A mapping names a keypoint a dataset does not have (naming the dataset
            file).
    """
    for spec in config.transfer:
        if spec.train not in datasets or spec.test not in datasets:
            continue
        train, test = datasets[spec.train][0], datasets[spec.test][0]
        for side, ds, names in ((spec.train, train, spec.keypoints), (spec.test, test, None)):
            wanted = list(names) if names is not None else list(spec.keypoints.values())
            for name in wanted:
                if name not in ds.keypoints:
                    where = ds.source if ds.source is not None else side
                    raise InputError(
                        where,
                        f"transfer {spec.label}: the keypoint mapping names {name!r}, which is "
                        f"not a keypoint of {side} (its keypoints: {', '.join(ds.keypoints)})",
                    )


def transfers_for(
    config: RunConfig, datasets: dict[str, tuple[Dataset, list[Split]]], job: Job
) -> dict[str, Transfer]:
    """The cross-dataset tests of ``job``: test dataset name -> its test frames.

    Only jobs trained on a fold's whole training set and tested on its test frames are
    tested on other datasets. The frames of the other dataset are its test frames over all
    its folds, the frames its own models are tested on.
    """
    if job.train_size is not None or job.inner_fold is not None:
        return {}
    out = {}
    for spec in config.transfer:
        if spec.train != job.dataset or spec.test not in datasets:
            continue
        test_ds, splits = datasets[spec.test]
        frames = {f for s in splits for f in s.test}
        out[spec.test] = Transfer(
            spec, test_ds.subset([f for f in test_ds.frame_ids if f in frames])
        )
    return out


def score_transfer(
    transfer: Transfer, train: Dataset, pred: np.ndarray, folder: Path, scores: Any
) -> dict[str, Any]:
    """Metrics of a model's predictions on a transfer's test frames; writes the frame errors
    (``transfer/<dataset>_frame_errors.csv``, the test dataset's keypoint names).

    Args:
        transfer: The transfer.
        train: The training dataset (its keypoint names).
        pred: Predictions ``(n, train keypoints, 3)`` aligned to the test frames.
        folder: The job's folder.
        scores: ``(gt, pred) -> summarize result`` with the run's thresholds.
    """
    from benchmark.metrics import miss_penalty_px, scored_errors

    gt, values = transfer.mapped(train, pred)
    penalty = miss_penalty_px(gt.image_sizes())
    errors = scored_errors(gt.points, values, penalty)
    detected = np.isfinite(values[..., :2]).all(axis=-1)
    rows = [
        [fid, kp, errors[i, j] if detected[i, j] else np.nan, errors[i, j]]
        for i, fid in enumerate(gt.frame_ids)
        for j, kp in enumerate(gt.keypoints)
        if gt.labeled[i, j]
    ]
    frame = pd.DataFrame(rows, columns=["frame_id", "keypoint", "error_px", "scored_px"])
    name = transfer.test.name
    atomic_write_text(folder / "transfer" / f"{name}_frame_errors.csv", frame.to_csv(index=False))
    return {
        **scores(gt, values),
        "keypoints": dict(transfer.pairs(train)),
        "left_out": transfer.left_out(train),
        "n_frames": gt.n_frames,
    }


# ----------------------------------------------------------------------------- sweeps
def inner_jobs(
    entry: AdapterSpec, dataset: str, split: Split, seeds: tuple[int, ...]
) -> list[tuple[Job, Split]]:
    """The inner-fold jobs of a ``select_by`` sweep on one outer fold: every point x seed x
    inner fold, each trained and tested inside the fold's training frames."""
    return [
        (Job(dataset, split.fold, point, seed, inner_fold=j), split.inner(j))
        for point in entry.points()
        for seed in seeds
        for j in range(len(split.inner_tests))
    ]


def select_point(
    run_dir: Path, entry: AdapterSpec, dataset: str, split: Split, seeds: tuple[int, ...]
) -> dict[str, Any]:
    """Choose the sweep point of one outer fold from its inner-fold jobs.

    A point's error is the mean of :data:`SELECTION_METRIC` over its inner folds and seeds;
    a point with an inner job that did not finish is not chosen. Ties go to the earlier
    point of the grid.

    Returns:
        ``{metric, inner_folds, points: {label: {config, errors, mean}}, chosen, config}``;
        ``chosen`` is None when no point finished all its inner jobs.
    """
    points: dict[str, Any] = {}
    for point in entry.points():
        errors: list[float | None] = []
        for job, _ in inner_jobs(point, dataset, split, seeds):
            path = job_dir(run_dir, job) / "job.json"
            rec = read_record(path, JobRecord) if path.is_file() else None
            value = rec.metrics.get(SELECTION_METRIC) if rec and rec.metrics else None
            errors.append(None if rec is None or rec.status != "done" else value)
        complete = all(e is not None and np.isfinite(e) for e in errors)
        mean = float(np.mean(errors)) if complete and errors else None
        points[point.label] = {"config": point.config, "errors": errors, "mean": mean}
    finished = [(v["mean"], label) for label, v in points.items() if v["mean"] is not None]
    chosen = min(finished, key=lambda m: m[0])[1] if finished else None
    return {
        "select_by": entry.select_by,
        "metric": SELECTION_METRIC,
        "inner_folds": len(split.inner_tests),
        "points": points,
        "chosen": chosen,
        "config": points[chosen]["config"] if chosen else None,
    }


def tuned_job(
    run_dir: Path, entry: AdapterSpec, dataset: str, split: Split, seed: int, seeds: tuple[int, ...]
) -> Job:
    """The outer-fold job of a ``select_by`` sweep: the chosen point trained on the fold's
    training frames, under the sweep's label (its options: the chosen point's; none when no
    point could be chosen, see ``job.selection['chosen']``)."""
    selection = select_point(run_dir, entry, dataset, split, seeds)
    config = selection["config"] if selection["config"] is not None else entry.config
    adapter = replace(entry, config=config, sweep={}, select_by=None)
    return Job(dataset, split.fold, adapter, seed, selection=selection)
