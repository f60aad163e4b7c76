"""A realistic fake run directory (as ``kpbench run`` writes it) for report tests.

No framework runs: "predictions" are the ground truth plus seeded noise, with some keypoints
not detected, written in the run-directory formats of DESIGN.md / the team contract.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.dataset import Dataset
from benchmark.io.predictions import write_dlc_predictions
from benchmark.metrics import DEFAULT_THRESHOLDS, keypoint_errors, summarize, tidy_rows
from benchmark.records import (
    DatasetRecord,
    JobRecord,
    ModelInfo,
    RunManifest,
    Timing,
    write_datasets,
    write_record,
)
from benchmark.runner.run import MODEL_KEYS, TIMING_KEYS, dataset_record
from tests.fixtures import make_blob_dataset

RUN_NAME = "fake-run"
HOST = {
    "cpu": "Fake CPU @ 2.0GHz",
    "cores": 2,
    "memory_gb": 8.0,
    "os": "Linux-fake",
    "python": "3.11.9",
    "gpu": None,
    "torch": "2.15.0",
}


@dataclass(frozen=True)
class FakeAdapter:
    """How a fake adapter's predictions deviate from the ground truth.

    Attributes:
        name: Adapter name.
        noise_px: Standard deviation of the Gaussian noise added to x and y.
        miss_fraction: Share of keypoints not detected (NaN), on every keypoint.
        miss_keypoint: Keypoint index missed in ``miss_keypoint_fraction`` of frames, or None.
        train_s: Training wall time in seconds.
        failed_folds: Folds whose job fails (no predictions, status ``failed``).
        constant: Predict every keypoint at its mean labelled position in every frame (a
            model that learned nothing), before the noise.
    """

    name: str
    noise_px: float
    miss_fraction: float = 0.0
    miss_keypoint: int | None = None
    miss_keypoint_fraction: float = 0.0
    train_s: float = 60.0
    failed_folds: tuple[int, ...] = ()
    notes: dict = field(default_factory=dict)
    constant: bool = False


DEFAULT_ADAPTERS = (
    FakeAdapter("heatmap", 0.8, miss_fraction=0.02, train_s=95.0, notes={"pretrained": False}),
    FakeAdapter("trackrat", 2.5, miss_keypoint=3, miss_keypoint_fraction=0.75, train_s=40.0),
    FakeAdapter("deeplabcut", 1.2, miss_fraction=0.05, train_s=700.0, notes={"pretrained": False}),
    FakeAdapter("sleap", 1.6, train_s=400.0, failed_folds=(0,)),
)


def _job_record(
    ds: Dataset, fold: int, adapter: FakeAdapter, seed: int, failed: bool, n_test: int
) -> JobRecord:
    """The ``job.json`` of one fake job."""
    train_s = adapter.train_s * (1 + 0.1 * fold)
    record = JobRecord(
        job_id=f"{ds.name}__fold{fold}__{adapter.name}__seed{seed}",
        dataset=ds.name,
        fold=fold,
        adapter=adapter.name,
        adapter_name=adapter.name,
        seed=seed,
        adapter_config={"epochs": 40, "batch_size": 8, "lr": 0.001, "input_scale": 1.0},
        provenance={
            "kpbench_version": "0.1.0",
            "git_commit": "0123456789abcdef0123456789abcdef01234567",
            "host": HOST,
            "dataset_hash": ds.content_hash(),
            "n_test_frames": n_test,
        },
        framework_version={"heatmap": "0.1.0", "trackrat": "0.1.0"}.get(adapter.name, "3.0.2"),
        notes=adapter.notes,
        environment={"python": "3.11.9", "torch": "2.15.0", "cuda": False, "gpu": None},
    )
    if failed:
        return record.ended(
            "failed",
            "RuntimeError: CUDA out of memory (fake)",
            "".join(f"log line {i}\n" for i in range(40))
            + "Traceback (most recent call last):\nRuntimeError: CUDA out of memory (fake)\n",
        )
    return replace(
        record,
        status="done",
        timing=Timing(
            train_s=train_s,
            train_cpu_s=1.9 * train_s,
            load_s=0.5,
            predict_s=n_test * train_s / 10000.0,
            predict_fps=1000.0 / train_s * 10,
            peak_rss_mb=300.0 + train_s / 2,
            threads=2,
        ),
        model=ModelInfo(n_params=int(train_s * 5000), model_mb=train_s / 50),
    )


def make_fake_run(
    root: Path,
    adapters: tuple[FakeAdapter, ...] = DEFAULT_ADAPTERS,
    folds: int = 2,
    seed: int = 0,
    datasets: Sequence[Dataset] | None = None,
    config: dict | None = None,
) -> Path:
    """Write a run directory under ``root/runs/fake-run`` and return its path.

    ``config`` adds run-config keys (e.g. ``thresholds``, ``overlay_frames``); the metrics
    use its ``thresholds`` as the runner would.

    By default it holds two synthetic datasets: ``blobs`` (16 frames, 96x72 px, every adapter
    in ``adapters`` x ``folds`` folds; an adapter's ``failed_folds`` jobs fail) and
    ``blobs_solo`` (10 frames, only the first adapter, one fold). ``datasets`` replaces them
    (each with every adapter x ``folds``). ``metrics.csv`` and ``frame_errors.csv`` are
    computed with ``benchmark.metrics`` as the runner does.
    """
    root = Path(root)
    run_dir = root / "runs" / RUN_NAME
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    plan = [(ds, adapters, folds) for ds in datasets or ()] or [
        (make_blob_dataset(root / "blobs", 16, (96, 72), seed=1, name="blobs"), adapters, folds),
        (
            make_blob_dataset(root / "solo", 10, (96, 72), seed=2, name="blobs_solo"),
            adapters[:1],
            1,
        ),
    ]
    config = {
        "name": RUN_NAME,
        "datasets": [d.name for d, _, _ in plan],
        "folds": folds,
        **(config or {}),
    }
    thresholds = config.get("thresholds", DEFAULT_THRESHOLDS)
    run = RunManifest(
        name=RUN_NAME,
        created="2025-01-01T12:00:00+00:00",
        kpbench_version="0.1.0",
        git_commit="0123456789abcdef0123456789abcdef01234567",
        host=HOST,
        config=config,
    )
    write_record(run_dir / "run.json", run)
    meta: dict[str, DatasetRecord] = {}
    metric_rows: list[dict] = []
    error_rows: list[dict] = []
    for ds, ds_adapters, ds_folds in plan:
        meta[ds.name] = dataset_record(ds)
        (run_dir / "groundtruth").mkdir(exist_ok=True)
        likelihood = np.where(ds.labeled, 1.0, np.nan)[..., None]
        write_dlc_predictions(
            run_dir / "groundtruth" / f"{ds.name}.csv",
            ds.frame_ids,
            ds.keypoints,
            np.concatenate([ds.points, likelihood], axis=-1),
            scorer="groundtruth",
        )
        fold_tests = [list(ds.frame_ids[f::ds_folds]) for f in range(ds_folds)]
        split = [
            {
                "dataset": ds.name,
                "dataset_hash": ds.content_hash(),
                "seed": seed,
                "method": f"kfold{ds_folds}",
                "fold": f,
                "train": [i for i in ds.frame_ids if i not in test],
                "val": [],
                "test": test,
            }
            for f, test in enumerate(fold_tests)
        ]
        (run_dir / "splits").mkdir(exist_ok=True)
        (run_dir / "splits" / f"{ds.name}.json").write_text(json.dumps(split, indent=2))
        for fold, test_ids in enumerate(fold_tests):
            test = ds.subset(test_ids)
            for adapter in ds_adapters:
                failed = fold in adapter.failed_folds
                record = _job_record(ds, fold, adapter, seed, failed, len(test_ids))
                job_dir = run_dir / "jobs" / record.job_id
                (job_dir / "work").mkdir(parents=True)
                write_record(job_dir / "job.json", record)
                if failed:
                    continue
                n, k = test.points.shape[:2]
                centre = np.nanmean(test.points, axis=0, keepdims=True)
                base = (
                    np.broadcast_to(centre, test.points.shape) if adapter.constant else test.points
                )
                pred = base + rng.normal(0, adapter.noise_px, (n, k, 2))
                # An unlabelled point still gets a prediction near the animal.
                pred = np.where(np.isnan(pred), 10.0, pred)
                missed = rng.random((n, k)) < adapter.miss_fraction
                if adapter.miss_keypoint is not None:
                    missed[:, adapter.miss_keypoint] |= (
                        rng.random(n) < adapter.miss_keypoint_fraction
                    )
                pred[missed] = np.nan
                score = np.where(missed, np.nan, rng.uniform(0.6, 1.0, (n, k)))
                values = np.concatenate([pred, score[..., None]], axis=-1)
                write_dlc_predictions(
                    job_dir / "predictions.csv", test_ids, ds.keypoints, values, scorer=adapter.name
                )
                key = {
                    "run": RUN_NAME,
                    "dataset": ds.name,
                    "fold": fold,
                    "adapter": adapter.name,
                    "seed": seed,
                }
                rows = tidy_rows(summarize(test.points, pred, ds.keypoints, thresholds=thresholds))
                rows += [("all", m, float(getattr(record.timing, m))) for m in TIMING_KEYS]
                rows += [("all", m, float(getattr(record.model, m))) for m in MODEL_KEYS]
                metric_rows += [
                    {**key, "keypoint": kp, "metric": m, "value": v} for kp, m, v in rows
                ]
                labelled = test.labeled
                err = keypoint_errors(test.points, pred)
                for i, fid in enumerate(test_ids):
                    for j, kp in enumerate(ds.keypoints):
                        if labelled[i, j]:
                            error_rows.append(
                                {**key, "frame_id": fid, "keypoint": kp, "error_px": err[i, j]}
                            )
    write_datasets(run_dir / "datasets.json", meta)
    keys = ["run", "dataset", "fold", "adapter", "seed"]
    metrics = pd.DataFrame(metric_rows, columns=[*keys, "keypoint", "metric", "value"])
    metrics.to_csv(run_dir / "metrics.csv", index=False)
    errors = pd.DataFrame(error_rows, columns=[*keys, "frame_id", "keypoint", "error_px"])
    errors.to_csv(run_dir / "frame_errors.csv", index=False)
    return run_dir
