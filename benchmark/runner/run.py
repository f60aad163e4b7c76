"""``kpbench run``: every dataset x fold x adapter x seed, one worker subprocess per job.

The runner makes each dataset's split once, starts each job in its own process (so a crash,
timeout or out-of-memory kill fails that job only), computes every metric itself from the
stored predictions, and keeps the run directory resumable: a job with a ``job.json`` whose
status is ``done`` is never redone, and the run-level tables are rebuilt from the job
folders, so an interrupted and resumed run ends with the same tables as an uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from benchmark import __version__
from benchmark.dataset import Dataset
from benchmark.errors import InputError, KpbenchError, SubmitError
from benchmark.paths import atomic_write_text, sha256_file
from benchmark.records import (
    DatasetRecord,
    Execution,
    JobRecord,
    RunManifest,
    WorkerResult,
    read_datasets,
    read_record,
    write_datasets,
    write_record,
)
from benchmark.runner.config import DatasetSpec, RunConfig, SplitSpec, check_adapters
from benchmark.runner.executors import Executor, Handle, Outcome, WorkerCommand, make_executor
from benchmark.runner.jobs import Job, job_dir
from benchmark.runner.lock import LOCK_FILE, check_free, run_lock
from benchmark.runner.progress import JobProgress, read_progress
from benchmark.runner.provenance import git_commit, host_info
from benchmark.runner.studies import Transfer, check_transfers, score_transfer, transfers_for
from benchmark.runner.worker import EXIT_NO_SPACE, dataset_to_plain
from benchmark.splits import (
    Split,
    load_splits,
    make_splits,
    save_splits,
    with_inner_folds,
    with_train_subsets,
)

STDERR_TAIL_LINES = 40
#: Seconds between two looks at the running jobs.
POLL_S = 1.0


# ----------------------------------------------------------------------------- datasets
def load_run_dataset(spec_name: str, spec_path: str | None) -> Dataset:
    """A run's dataset: from the registry by name, or read from a path."""
    if spec_path:
        from benchmark.io import read_dataset

        return read_dataset(spec_path, name=spec_name)
    from benchmark.datasets import load_dataset

    return load_dataset(spec_name)


def with_config_pairs(ds: Dataset, spec: DatasetSpec) -> Dataset:
    """``ds`` with the left/right pairs of its config entry (``flip_pairs``), which replace
    the file's; unchanged when the entry gives none.

    Raises:
        InputError: ``flip_pairs`` names a keypoint the dataset lacks (the message names the
            config's dataset entry and the keypoints there are).
    """
    if spec.flip_pairs is None:
        return ds
    try:
        skeleton = ds.skeleton.with_symmetries(spec.flip_pairs)
    except ValueError as exc:
        raise InputError(
            ds.source or spec.name, f"run config, dataset {spec.name!r}: flip_pairs: {exc}"
        ) from None
    return replace(ds, skeleton=skeleton)


def dataset_splits(
    run_dir: Path, config: RunConfig, ds: Dataset, spec: SplitSpec | None = None
) -> list[Split]:
    """The dataset's splits: the run's stored split file when there is one, else new ones
    as ``spec`` (the dataset's own split) or else the run's split says.

    Writes nothing. Every fold must leave labelled keypoints to train on.

    Raises:
        InputError: The dataset cannot be split as the config says (too few frames), the
            stored split was made for other data, or a fold has no labelled training point.
    """
    where = ds.source if ds.source is not None else ds.name
    split_path = run_dir / "splits" / f"{ds.name}.json"
    if split_path.is_file():
        splits = load_splits(split_path, ds)
    else:
        s = spec or config.split
        try:
            splits = make_splits(
                ds,
                test_fraction=s.test_fraction,
                val_fraction=s.val_fraction,
                seed=s.seed,
                folds=s.folds,
            )
        except ValueError as exc:
            raise InputError(where, f"cannot split as the run config says: {exc}") from None
        try:
            if config.train_sizes:
                splits = [with_train_subsets(sp, config.train_sizes) for sp in splits]
            if any(a.select_by for a in config.adapters):
                splits = [with_inner_folds(sp, s.inner_folds) for sp in splits]
        except ValueError as exc:
            raise InputError(where, f"{exc}") from None
    for split in splits:
        parts = {f"fold {split.fold}": split.train}
        parts |= {f"fold {split.fold}'s {len(t)}-frame subset": t for t in split.train_subsets}
        for j in range(len(split.inner_tests)):
            parts[f"fold {split.fold}'s inner fold {j}"] = split.inner(j).train
        for what, frames in parts.items():
            if not ds.subset(frames).labeled.any():
                raise InputError(
                    where,
                    f"{what} has no labelled keypoint among its {len(frames)} training "
                    "frames: nothing to train on",
                )
    return splits


def record_dataset(run_dir: Path, ds: Dataset, splits: list[Split]) -> None:
    """Store the dataset's labels (``groundtruth/``) and splits (``splits/``) once."""
    from benchmark.io.predictions import write_dlc_predictions

    gt_path = run_dir / "groundtruth" / f"{ds.name}.csv"
    if not gt_path.exists():
        likelihood = np.where(ds.labeled, 1.0, np.nan)[..., None]
        values = np.concatenate([ds.points, likelihood], axis=-1)
        write_dlc_predictions(gt_path, ds.frame_ids, ds.keypoints, values, scorer="groundtruth")
    split_path = run_dir / "splits" / f"{ds.name}.json"
    if not split_path.exists():
        save_splits(splits, split_path)


def dataset_record(ds: Dataset) -> DatasetRecord:
    """What the report needs to know about a dataset (``datasets.json`` entry)."""
    size = ds.image_size()
    return DatasetRecord(
        species=ds.meta.get("species"),
        synthetic=bool(ds.meta.get("synthetic", False)),
        source=str(ds.source) if ds.source else None,
        format=ds.format,
        hash=ds.content_hash(),
        keypoints=list(ds.keypoints),
        edges=[list(e) for e in ds.skeleton.edges],
        n_frames=ds.n_frames,
        image_size=list(size) if size else None,
        frame_ids=list(ds.frame_ids),
        image_paths=[str(p) for p in ds.image_paths],
    )


# ----------------------------------------------------------------------------- one job
def _tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _last_error_line(stderr_tail: str) -> str:
    lines = [ln for ln in stderr_tail.splitlines() if ln.strip()]
    for line in reversed(lines):
        if not line.startswith((" ", "\t")) and ("Error" in line or "Exception" in line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def job_header(
    run_dir: Path, job: Job, split: Split, provenance: dict[str, Any], python: str | None
) -> JobRecord:
    """The job's record before it ends: which job, and what it ran with."""
    return JobRecord(
        job_id=job.id,
        dataset=job.dataset,
        fold=job.fold,
        adapter=job.adapter.label,
        adapter_name=job.adapter.name,
        seed=job.seed,
        adapter_config=job.adapter.config,
        provenance={
            **provenance,
            "dataset_hash": split.dataset_hash,
            "split_hash": sha256_file(run_dir / "splits" / f"{job.dataset}.json"),
        },
        python=python,
        train_size=job.train_size,
        inner_fold=job.inner_fold,
        n_train=len(split.train),
        selection=job.selection,
    )


def prepare_job(
    run_dir: Path,
    config: RunConfig,
    job: Job,
    ds: Dataset,
    split: Split,
    provenance: dict[str, Any],
    on_build: Any = None,
    transfers: dict[str, Transfer] | None = None,
) -> tuple[JobRecord, WorkerCommand | None]:
    """A fresh job folder with the worker's ``spec.json``, and the command to run it.

    A job whose adapter cannot run here gets its ``job.json`` (failed, or skipped when the
    adapter is optional) and no command. ``transfers``: other datasets whose test frames the
    trained model predicts too (without their labels).
    """
    folder = job_dir(run_dir, job)
    if folder.exists():
        shutil.rmtree(folder)  # leftovers of an interrupted attempt
    folder.mkdir(parents=True)
    try:
        return _fill_job_folder(run_dir, config, job, ds, split, provenance, on_build, transfers)
    except BaseException:
        if not (folder / JOB_JSON).is_file():  # no half-made job folder stays (disk full?)
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _fill_job_folder(
    run_dir: Path,
    config: RunConfig,
    job: Job,
    ds: Dataset,
    split: Split,
    provenance: dict[str, Any],
    on_build: Any,
    transfers: dict[str, Transfer] | None,
) -> tuple[JobRecord, WorkerCommand | None]:
    """:func:`prepare_job` once the empty job folder exists."""
    from benchmark import envs
    from benchmark.registry import load_class

    folder = job_dir(run_dir, job)
    adapter_cls = load_class(job.adapter.name)
    try:
        python = envs.interpreter_for(adapter_cls, job.adapter.python, on_build)
        # Only this interpreter can say whether the framework is installed in it.
        ok, why = adapter_cls.available() if envs.is_this_interpreter(python) else (True, "")
        status = "skipped" if job.adapter.optional else "failed"
    except envs.EnvBuildError as exc:  # a broken build fails the job, optional or not
        ok, why, status, python = False, str(exc), "failed", Path(sys.executable)
    record = job_header(run_dir, job, split, provenance, str(python))
    if not ok:
        record = record.ended(status, f"adapter cannot run here: {why}")
        write_record(folder / JOB_JSON, record)
        return record, None

    spec = {
        "adapter": job.adapter.name,
        "label": job.adapter.label,
        "adapter_config": job.adapter.config,
        "seed": job.seed,
        "threads": config.threads,
        "budget_s": config.budget.train_s,
        # Paths relative to the job folder (the spec's), so that a run folder can move.
        "workdir": "work",
        "result_path": "result.json",
        "progress_path": "progress.json",
        "predictions_path": "predictions.csv",
        "train": dataset_to_plain(ds.subset(split.train)),
        "val": dataset_to_plain(ds.subset(split.val)) if split.val else _empty(ds),
        "test": dataset_to_plain(ds.subset(split.test), with_labels=False),
        "transfer": [
            {
                "name": name,
                "frames": dataset_to_plain(t.as_training_frames(ds), with_labels=False),
                "predictions_path": f"transfer/{name}.csv",
            }
            for name, t in (transfers or {}).items()
        ],
    }
    spec_path = folder / "spec.json"
    atomic_write_text(spec_path, json.dumps(spec))
    command = WorkerCommand(
        job_id=job.id,
        python=str(python),
        spec_path=spec_path,
        folder=folder,
        threads=config.threads,
        timeout_s=job.adapter.timeout_s,
    )
    return record, command


def finish_job(
    run_dir: Path,
    config: RunConfig,
    job: Job,
    ds: Dataset,
    split: Split,
    record: JobRecord,
    outcome: Outcome,
    execution: Execution,
    transfers: dict[str, Transfer] | None = None,
) -> JobRecord:
    """Store the ended job's ``job.json``: done with the harness's metrics (and those of its
    cross-dataset tests) when the worker succeeded, else failed with how it ended and the
    tail of its stderr."""
    folder = job_dir(run_dir, job)
    stderr_tail = _tail(folder / "stderr.log") or outcome.log_tail
    result_path = folder / "result.json"
    if outcome.ok and result_path.is_file():
        result = read_record(result_path, WorkerResult)
        metrics = _job_metrics(config, ds, split, folder, job.adapter.label, result)
        record = record.finished(result, metrics)
        scored = _transfer_metrics(config, ds, folder, result, transfers or {})
        record = replace(record, transfer=scored)
        node = result.environment.get("node")
        if node:  # the provenance names the machine that trained, not the submitting host
            # The runner's own facts (memory, OS) hold only when the worker ran here.
            here = record.provenance.get("host", {}) if node == socket.gethostname() else {}
            facts = {k: v for k, v in result.environment.items() if k in ("cpu", "cores", "gpu")}
            host = {**here, **facts, "node": node}
            record = replace(record, provenance={**record.provenance, "host": host})
            execution = replace(execution, node=node)
    elif outcome.rc == EXIT_NO_SPACE:
        said = [ln for ln in stderr_tail.splitlines() if ln.startswith("no space left")]
        error = said[-1] if said else f"no space left on device (writing under {folder})"
        record = record.ended("failed", error, stderr_tail)
    else:
        detail = _last_error_line(stderr_tail)
        how = outcome.how
        record = record.ended("failed", f"{how}: {detail}" if detail else how, stderr_tail)
    record = replace(record, execution=execution)
    write_record(folder / JOB_JSON, record)
    return record


def _transfer_metrics(
    config: RunConfig, ds: Dataset, folder: Path, result: WorkerResult, transfers: dict[str, Any]
) -> dict[str, Any]:
    """Metrics of the job's predictions on each cross-dataset test (or why there are none)."""
    from benchmark.metrics import miss_penalty_px, summarize

    def scores(gt: Dataset, values: np.ndarray) -> dict[str, Any]:
        return summarize(
            gt.points, values, gt.keypoints, thresholds=config.thresholds, seed=0, n_boot=0,
            miss_penalty=miss_penalty_px(gt.image_sizes()),
        )  # fmt: skip

    out: dict[str, Any] = {}
    for name, transfer in transfers.items():
        path = folder / "transfer" / f"{name}.csv"
        if not path.is_file():
            out[name] = {"error": result.transfer_errors.get(name, "no predictions written")}
            continue
        _, pred = _read_job_predictions(transfer.as_training_frames(ds), path)
        out[name] = score_transfer(transfer, ds, pred, folder, scores)
    return out


def _empty(ds: Dataset) -> dict[str, Any]:
    plain = dataset_to_plain(ds.subset(ds.frame_ids[:1]))
    return {**plain, "frame_ids": [], "image_paths": [], "points": []}


def _job_metrics(
    config: RunConfig, ds: Dataset, split: Split, folder: Path, scorer: str, result: WorkerResult
) -> dict[str, Any]:
    """Metrics of a finished job from its stored predictions.

    Headline metrics count every location the adapter returned; ``own_cutoff`` holds the
    same with the framework's own score cutoff applied (its users' view). Also writes the
    job's frame errors and its learning curve (``curve.csv``: the metrics of each snapshot,
    then of the final model).
    """
    from benchmark.io.predictions import write_dlc_predictions
    from benchmark.metrics import apply_cutoff, miss_penalty_px, scored_errors, summarize

    pred_path = folder / "predictions.csv"
    test = ds.subset(split.test)
    stored, pred = _read_job_predictions(test, pred_path)
    # An h5 twin, as DeepLabCut writes predictions (movement's file reader takes the h5);
    # written here, not by the worker, whose environment may lack PyTables.
    write_dlc_predictions(
        pred_path.with_suffix(".h5"),
        stored.frame_ids,
        stored.keypoints,
        stored.values,
        scorer=scorer,
    )
    penalty = miss_penalty_px(test.image_sizes())
    errors = scored_errors(test.points, pred, penalty)
    detected = np.isfinite(pred[..., :2]).all(axis=-1)
    rows = [
        {
            "frame_id": fid,
            "keypoint": kp,
            "error_px": errors[i, j] if detected[i, j] else np.nan,
            "scored_px": errors[i, j],
        }
        for i, fid in enumerate(test.frame_ids)
        for j, kp in enumerate(test.keypoints)
        if test.labeled[i, j]
    ]
    frame = pd.DataFrame(rows, columns=["frame_id", "keypoint", "error_px", "scored_px"])
    atomic_write_text(folder / "frame_errors.csv", frame.to_csv(index=False))

    def scores(values: np.ndarray, n_boot: int = 1000) -> dict[str, Any]:
        return summarize(
            test.points,
            values,
            test.keypoints,
            thresholds=config.thresholds,
            seed=0,
            n_boot=n_boot,
            miss_penalty=penalty,
        )

    metrics = scores(pred)
    if result.score_cutoff is not None:
        metrics["own_cutoff"] = {
            "score_cutoff": result.score_cutoff,
            **scores(apply_cutoff(pred, result.score_cutoff), n_boot=0),
        }
    curve = []
    for point in [*result.curve, None]:
        if point is not None and point.predictions is None:
            continue  # a snapshot that could not predict (its error is in job.json)
        if point is None:
            epoch, train_s, final, values = result.training.epochs_done, None, True, pred
        else:
            _, values = _read_job_predictions(test, folder / point.predictions)
            epoch, train_s, final = point.epoch, point.train_s, False
        summary = scores(values, n_boot=0)
        for key, value in summary.items():
            if isinstance(value, int | float) or value is None:
                curve.append([epoch, train_s, final, key, value])
        curve += [[epoch, train_s, final, f"pck@{t}", v] for t, v in summary["pck"].items()]
    table = pd.DataFrame(curve, columns=["epoch", "train_s", "final", "metric", "value"])
    table.loc[table["final"], "train_s"] = result.timing.train_s
    atomic_write_text(folder / "curve.csv", table.to_csv(index=False))
    return metrics


def _read_job_predictions(test: Dataset, path: Path) -> tuple[Any, np.ndarray]:
    """A job's stored prediction file and its values aligned to the test frames."""
    from benchmark.io.predictions import align_predictions, read_predictions

    stored = read_predictions(path)
    return stored, align_predictions(test, stored, path)


# ----------------------------------------------------------------------------- tables
TIMING_KEYS = (
    "train_s",
    "train_cpu_s",
    "setup_s",
    "load_s",
    "predict_fps",
    "peak_rss_mb",
    "threads",
)
TRAINING_KEYS = ("budget_s", "stopped_by_budget", "epochs_done", "epochs_planned")
MODEL_KEYS = ("n_params", "model_mb")
#: The key of every row: the job (``train_size`` empty for the fold's whole training set,
#: ``inner_fold`` empty for a job tested on the fold's test set) and the dataset whose frames
#: were scored (``test_dataset``: the job's own, or another in a cross-dataset test).
KEY_COLUMNS = [
    "run", "dataset", "fold", "adapter", "seed", "train_size", "inner_fold", "test_dataset"
]  # fmt: skip


def collect_tables(run_dir: Path, run_name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rebuild ``metrics.csv``, ``frame_errors.csv`` and ``curves.csv`` from the finished
    jobs' folders."""
    from benchmark.metrics import CUTOFF_PREFIX, tidy_rows

    metric_rows, error_frames, curve_frames = [], [], []
    for job_json in sorted((run_dir / "jobs").glob(f"*/{JOB_JSON}")):
        rec = read_record(job_json, JobRecord)
        if rec.status != "done":
            continue
        assert rec.metrics is not None and rec.timing is not None and rec.model is not None
        job_key = [run_name, rec.dataset, rec.fold, rec.adapter, rec.seed]
        job_key += [rec.train_size, rec.inner_fold]
        key = [*job_key, rec.dataset]
        for keypoint, metric, value in tidy_rows(rec.metrics):
            metric_rows.append([*key, keypoint, metric, value])
        if "own_cutoff" in rec.metrics:
            for keypoint, metric, value in tidy_rows(rec.metrics["own_cutoff"]):
                metric_rows.append([*key, keypoint, CUTOFF_PREFIX + metric, value])
            cutoff = rec.metrics["own_cutoff"]["score_cutoff"]
            metric_rows.append([*key, "all", "score_cutoff", cutoff])
        for name in TIMING_KEYS:
            metric_rows.append([*key, "all", name, getattr(rec.timing, name)])
        if rec.training is not None:
            for name in TRAINING_KEYS:
                value = getattr(rec.training, name)
                metric_rows.append([*key, "all", name, float(value) if value is not None else None])
        for name in MODEL_KEYS:
            metric_rows.append([*key, "all", name, getattr(rec.model, name)])
        if rec.n_train is not None:
            metric_rows.append([*key, "all", "train_frames", float(rec.n_train)])
        error_frames.append(_with_key(job_json.parent / "frame_errors.csv", key))
        for name, scores in rec.transfer.items():
            if "error" in scores:
                continue
            for keypoint, metric, value in tidy_rows(scores):
                metric_rows.append([*job_key, name, keypoint, metric, value])
            path = job_json.parent / "transfer" / f"{name}_frame_errors.csv"
            error_frames.append(_with_key(path, [*job_key, name]))
        if (job_json.parent / "curve.csv").is_file():
            curve_frames.append(_with_key(job_json.parent / "curve.csv", key))
    metrics = pd.DataFrame(metric_rows, columns=[*KEY_COLUMNS, "keypoint", "metric", "value"])
    metrics["value"] = pd.to_numeric(metrics["value"], errors="coerce")
    errors = _concat(error_frames, ["frame_id", "keypoint", "error_px", "scored_px"])
    curves = _concat(curve_frames, ["epoch", "train_s", "final", "metric", "value"])
    atomic_write_text(run_dir / "metrics.csv", metrics.to_csv(index=False))
    atomic_write_text(run_dir / "frame_errors.csv", errors.to_csv(index=False))
    atomic_write_text(run_dir / "curves.csv", curves.to_csv(index=False))
    return metrics, errors


def _with_key(path: Path, key: list[Any]) -> pd.DataFrame:
    """A job's table with the job's key columns in front."""
    table = pd.read_csv(path, dtype={"frame_id": str})
    for i, (col, value) in enumerate(zip(KEY_COLUMNS, key, strict=True)):
        table.insert(i, col, value)
    return table


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame(columns=[*KEY_COLUMNS, *columns])


# ----------------------------------------------------------------------------- the run
#: Config keys that do not change any job: a run can be resumed with new values (the
#: executor only says where the jobs run).
NON_JOB_KEYS = ("track_videos", "overlay_frames", "executor", "target_pck", "description")
#: The run's manifest; a folder holding one (written by kpbench) is a run directory.
MANIFEST = "run.json"
DATASETS_JSON = "datasets.json"
JOB_JSON = "job.json"
#: The resolved run config, for people; never ``config.yaml``, so that a run folder cannot
#: be mistaken for (or overwrite) a DeepLabCut project.
CONFIG_COPY = "kpbench-run.yaml"


def existing_manifest(run_dir: Path) -> RunManifest | None:
    """The manifest of an existing run directory; None for a folder that can become one.

    Raises:
        InputError: ``run_dir`` is a file, a folder that is neither empty nor a kpbench run
            (e.g. a DeepLabCut project), or a run whose manifest is unreadable.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(run_dir, "exists and is not a folder; give --out a new or empty folder")
    path = run_dir / MANIFEST
    if path.is_file():
        try:
            return read_record(path, RunManifest)
        except InputError as exc:
            raise InputError(
                path,
                f"is not a run manifest kpbench can use ({exc.problem}); give --out a "
                "new or empty folder",
            ) from None
    if run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        raise InputError(
            run_dir,
            "exists and is not a kpbench run (no run.json): refusing to write into it; "
            "give --out a new or empty folder",
        )
    return None


def _check_same_config(run_dir: Path, manifest: RunManifest, config: RunConfig) -> None:
    """Refuse to resume a run made with a config whose jobs differ."""

    def jobs_part(cfg: dict) -> dict:
        return {k: v for k, v in cfg.items() if k not in NON_JOB_KEYS}

    new = json.loads(json.dumps(config.to_dict()))
    # Runs from before budgets, per-dataset splits and studies lack their keys.
    split_keys = {"inner_folds": 3}
    old = {"budget": {"train_s": None}, **manifest.config}
    old["split"] = {**split_keys, **old.get("split", {})}
    old["datasets"] = [{"split": None, **d} for d in old.get("datasets", [])]
    for d in old["datasets"]:
        if d["split"] is not None:
            d["split"] = {**split_keys, **d["split"]}
    old["adapters"] = [{"sweep": {}, "select_by": None, **a} for a in old.get("adapters", [])]
    if jobs_part(old) != jobs_part(new):
        raise InputError(
            run_dir, "this run directory was made with a different config; use another --out"
        )


def _new_manifest(config: RunConfig) -> RunManifest:
    return RunManifest(
        name=config.name,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        kpbench_version=__version__,
        git_commit=git_commit(),
        host=host_info(),
        config=config.to_dict(),
    )


def _load_datasets(
    config: RunConfig, run_dir: Path, quiet: bool
) -> tuple[dict[str, tuple[Dataset, list[Split]]], dict[str, str]]:
    """Every dataset of the run with its splits, and the optional ones that were skipped."""
    datasets: dict[str, tuple[Dataset, list[Split]]] = {}
    skipped: dict[str, str] = {}
    for spec in config.datasets:
        try:
            ds = load_run_dataset(spec.name, spec.path)
        except KpbenchError as exc:
            if not spec.optional:
                raise
            skipped[spec.name] = str(exc)
            _log(quiet, f"skipping optional dataset {spec.name}: {exc}")
            continue
        ds = with_config_pairs(ds, spec)  # a config error: raised even for optional ones
        datasets[spec.name] = (ds, dataset_splits(run_dir, config, ds, spec.split))
    return datasets, skipped


def run(config: RunConfig, run_dir: Path, *, quiet: bool = False) -> pd.DataFrame:
    """Run (or resume) every job of ``config`` into ``run_dir``; returns the metrics table.

    Everything is checked before anything is written: the adapters' options, the output
    folder (new, empty, or a run of the same config), every dataset and its splits. A job
    that fails is recorded as failed (see :func:`job_counts`) and the others go on.

    Raises:
        KpbenchError: Bad input; nothing was written.
        KeyboardInterrupt: Interrupted; the running job's worker was killed, finished jobs
            are kept and rerunning resumes.
    """
    run_dir = Path(run_dir).resolve()  # workers run in the repository root, not the cwd
    check_adapters(config)
    executor = make_executor(config.executor)
    manifest = existing_manifest(run_dir)
    if manifest is not None:
        _check_same_config(run_dir, manifest, config)
    check_free(run_dir)  # fail fast, before loading datasets
    datasets, skipped = _load_datasets(config, run_dir, quiet)
    check_transfers(config, datasets)
    _check_no_cluster_jobs_left(run_dir, config, run_jobs(config, datasets))
    # ----- from here on the run directory is written, by this process alone
    new_folder = not run_dir.exists()
    with run_lock(run_dir):
        # Another run may have made (or changed) the folder since the checks above.
        manifest = existing_manifest(run_dir)
        if manifest is not None:
            _check_same_config(run_dir, manifest, config)
            new_folder = False
        try:
            return _run_held(config, run_dir, executor, manifest, datasets, skipped, quiet)
        except (OSError, KpbenchError):  # this process holds the folder: none other uses it
            if new_folder and not (run_dir / MANIFEST).is_file():  # full disk at the start
                shutil.rmtree(run_dir, ignore_errors=True)
            raise


def _run_held(
    config: RunConfig,
    run_dir: Path,
    executor: Executor,
    manifest: RunManifest | None,
    datasets: dict[str, tuple[Dataset, list[Split]]],
    skipped: dict[str, str],
    quiet: bool,
) -> pd.DataFrame:
    """The part of :func:`run` that writes, under the run folder's lock."""
    if manifest is None:
        manifest = _new_manifest(config)
        atomic_write_text(run_dir / CONFIG_COPY, yaml.safe_dump(config.to_dict(), sort_keys=False))
    jobs = run_jobs(config, datasets)
    n_tuned = sum(
        len(splits) * len(config.seeds) * sum(bool(a.select_by) for a in config.adapters)
        for _, splits in datasets.values()
    )
    manifest = replace(
        manifest,
        config=config.to_dict(),  # after-training settings may have changed
        skipped_datasets={**manifest.skipped_datasets, **skipped},
        planned_jobs=len(jobs) + n_tuned,
    )
    write_record(run_dir / MANIFEST, manifest)
    records = read_datasets(run_dir / DATASETS_JSON)
    for name, (ds, splits) in datasets.items():
        record_dataset(run_dir, ds, splits)
        records[name] = dataset_record(ds)
    write_datasets(run_dir / DATASETS_JSON, records)

    provenance = {
        "kpbench_version": __version__,
        "git_commit": manifest.git_commit,
        "host": manifest.host,
    }
    todo = [j for j in jobs if not _is_done(run_dir, j[0])]
    if len(todo) < len(jobs):
        _log(quiet, f"resuming: {len(jobs) - len(todo)} of {len(jobs)} jobs already done")
    with JobProgress(len(todo), quiet=quiet) as progress:
        run_queue(run_dir, config, todo, provenance, executor, progress, datasets)
    # Nested cross-validation: the outer-fold jobs, once their inner folds have chosen.
    tuned = [j for j in tuned_jobs(run_dir, config, datasets) if not _is_done(run_dir, j[0])]
    if tuned:
        _log(quiet, f"sweeps: {len(tuned)} job(s) with the point chosen on inner folds")
        with JobProgress(len(tuned), quiet=quiet) as progress:
            run_queue(run_dir, config, tuned, provenance, executor, progress, datasets)
    if config.track_videos:
        track_videos(run_dir, config, {name: ds for name, (ds, _) in datasets.items()}, quiet)
    metrics, _ = collect_tables(run_dir, config.name)
    return metrics


def _check_no_cluster_jobs_left(
    run_dir: Path, config: RunConfig, jobs: list[tuple[Job, Dataset, Split]]
) -> None:
    """Refuse to run here a job an earlier run submitted to Slurm and never collected: it may
    still be running there, into the same folder."""
    from benchmark.runner.executors.slurm import SLURM_JSON

    if config.executor.kind == "slurm":
        return
    for job, _, _ in jobs:
        folder = job_dir(run_dir, job)
        if (folder / SLURM_JSON).is_file() and not (folder / JOB_JSON).is_file():
            raise InputError(
                folder / SLURM_JSON,
                "this job was submitted to Slurm by an earlier run and not collected: resume "
                "with --executor slurm, or scancel it and delete this job folder",
            )


@dataclass
class _Submitted:
    """A job handed to the executor, until it ends."""

    job: Job
    ds: Dataset
    split: Split
    record: JobRecord
    handle: Handle
    phase: str = ""
    running_since: float = 0.0


def run_queue(
    run_dir: Path,
    config: RunConfig,
    todo: list[tuple[Job, Dataset, Split]],
    provenance: dict[str, Any],
    executor: Executor,
    progress: JobProgress,
    datasets: dict[str, tuple[Dataset, list[Split]]] | None = None,
) -> None:
    """Run the jobs of ``todo`` through ``executor``, up to its ``max_parallel`` at once, and
    store each one's ``job.json`` as it ends. ``datasets`` (the run's) give each job its
    cross-dataset tests.

    Jobs an earlier, interrupted ``kpbench run`` left queued or running on a cluster are
    found again and awaited, not submitted again. On an interrupt, local workers are killed;
    cluster jobs go on, to be collected by the next run.
    """
    waiting: deque[tuple[Job, Dataset, Split]] = deque()
    submitted: list[_Submitted] = []
    for job, ds, split in todo:
        folder = job_dir(run_dir, job)
        # A job that ended (failed) is tried again; one without job.json may still be out.
        handle = None if (folder / JOB_JSON).is_file() else executor.reattach(folder)
        if handle is None:
            waiting.append((job, ds, split))
            continue
        record = job_header(run_dir, job, split, provenance, handle.command.python)
        ref = executor.provenance(handle).get("slurm_job_id")
        progress.start(job.id, job.label, f"found again (Slurm job {ref}): waiting for it")
        submitted.append(_Submitted(job, ds, split, record, handle))
    ended = {"done": 0, "failed": 0}
    submitting: Job | None = None  # between asking the executor and recording its answer
    try:
        while waiting or submitted:
            while waiting and len(submitted) < executor.max_parallel:
                job, ds, split = waiting.popleft()
                if job.selection is not None and job.selection["chosen"] is None:
                    record = job_header(run_dir, job, split, provenance, None).ended(
                        "failed", "no point of the sweep finished all its inner-fold jobs"
                    )
                    job_dir(run_dir, job).mkdir(parents=True, exist_ok=True)
                    write_record(job_dir(run_dir, job) / JOB_JSON, record)
                    command = None
                else:
                    record, command = prepare_job(
                        run_dir, config, job, ds, split, provenance, progress.write,
                        transfers_for(config, datasets or {}, job),
                    )  # fmt: skip
                if command is None:
                    progress.start(job.id, job.label)
                    progress.finish(job.id, record.status, record.error or "")
                    ended["failed" if record.status == "failed" else "done"] += 1
                    continue
                submitting = job
                try:
                    handle = executor.submit(command)
                except SubmitError:
                    shutil.rmtree(job_dir(run_dir, job), ignore_errors=True)  # never ran
                    raise
                ref = executor.provenance(handle).get("slurm_job_id")
                progress.start(
                    job.id, job.label, f"submitted (Slurm job {ref})" if ref else "started"
                )
                submitted.append(_Submitted(job, ds, split, record, handle))
                submitting = None
            executor.refresh()
            for entry in list(submitted):
                outcome = executor.outcome(entry.handle)
                if outcome is None:
                    _show_running(executor, entry, progress)
                    continue
                execution = Execution(**executor.provenance(entry.handle), node=outcome.node)
                record = finish_job(
                    run_dir, config, entry.job, entry.ds, entry.split, entry.record, outcome,
                    execution, transfers_for(config, datasets or {}, entry.job),
                )  # fmt: skip
                submitted.remove(entry)
                if record.status == "done":  # a report of the running run shows this job
                    collect_tables(run_dir, config.name)
                progress.finish(entry.job.id, record.status, record.error or "")
                ended["failed" if record.status == "failed" else "done"] += 1
            if executor.max_parallel > 1 or executor.detaches:
                queued = sum(e.phase == "queued" for e in submitted)
                progress.show_counts(
                    len(waiting) + queued, len(submitted) - queued, ended["done"], ended["failed"]
                )
            if submitted:
                time.sleep(POLL_S)
    except BaseException:
        left = len(submitted)
        if executor.detaches and submitting is not None:
            # Interrupted after the cluster took the job: it is out there too.
            left += executor.reattach(job_dir(run_dir, submitting)) is not None
        if executor.detaches and left:
            progress.write(
                f"{left} job(s) stay queued or running on the cluster; run the "
                "same command again to wait for them and collect their results"
            )
        else:
            for entry in submitted:
                executor.cancel(entry.handle)
        raise


def _show_running(executor: Executor, entry: _Submitted, progress: JobProgress) -> None:
    """Progress of a submitted job that has not ended: its phase, then its epochs."""
    phase = executor.phase(entry.handle)
    if phase != entry.phase:
        if phase == "running":
            entry.running_since = time.monotonic()
            if entry.phase == "queued":
                progress.note(entry.job.id, "running")
        entry.phase = phase
    if phase == "running":
        values = read_progress(entry.handle.command.progress_path)
        progress.update(entry.job.id, values, time.monotonic() - entry.running_since)


def run_jobs(
    config: RunConfig, datasets: dict[str, tuple[Dataset, list[Split]]]
) -> list[tuple[Job, Dataset, Split]]:
    """Every job of the run that needs no other job's result: dataset x fold x adapter x
    seed, then each smaller training size of the fold (label efficiency), and for a
    ``select_by`` sweep its inner-fold jobs (the outer-fold jobs come after them, see
    :func:`tuned_jobs`)."""
    from benchmark.runner.studies import inner_jobs, subset_jobs

    jobs = []
    for name, (ds, splits) in datasets.items():
        for split in splits:
            for adapter in config.adapters:
                if adapter.select_by:
                    jobs += [(j, ds, s) for j, s in inner_jobs(adapter, name, split, config.seeds)]
                    continue
                for point in adapter.points():
                    for seed in config.seeds:
                        jobs.append((Job(name, split.fold, point, seed), ds, split))
                        jobs += [(j, ds, s) for j, s in subset_jobs(point, name, split, seed)]
    return jobs


def tuned_jobs(
    run_dir: Path, config: RunConfig, datasets: dict[str, tuple[Dataset, list[Split]]]
) -> list[tuple[Job, Dataset, Split]]:
    """The outer-fold job of every ``select_by`` sweep, per dataset x fold x seed, with the
    point chosen from the finished inner-fold jobs (see ``studies.select_point``)."""
    from benchmark.runner.studies import tuned_job

    return [
        (tuned_job(run_dir, adapter, name, split, seed, config.seeds), ds, split)
        for name, (ds, splits) in datasets.items()
        for split in splits
        for adapter in config.adapters
        if adapter.select_by
        for seed in config.seeds
    ]


def job_counts(run_dir: Path) -> dict[str, list[str]]:
    """Job ids of the run directory by status (``done``, ``failed``, ``skipped``, ...);
    a job folder without ``job.json`` (an interrupted attempt) counts as ``unfinished``."""
    counts: dict[str, list[str]] = {}
    for folder in sorted((Path(run_dir) / "jobs").glob("*/")):
        path = folder / JOB_JSON
        status = read_record(path, JobRecord).status if path.is_file() else "unfinished"
        counts.setdefault(status, []).append(folder.name)
    return counts


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


def track_videos(run_dir: Path, config: RunConfig, datasets: dict[str, Dataset], quiet: bool):
    """``kpbench track`` (in its own process) for each finished adapter on the videos
    (``<dataset source>/videos/``) of each dataset ``config.track_videos`` names (all when it
    is true); a video already tracked is not redone."""
    from benchmark.envs import child_env
    from benchmark.video.track import TRACK_JSON, track_dir

    for name, ds in datasets.items():
        if config.track_videos is not True and name not in config.track_videos:
            continue
        folder = Path(ds.source) / "videos" if ds.source is not None else None
        videos = sorted(
            p
            for p in (folder.iterdir() if folder and folder.is_dir() else [])
            if p.suffix.lower() in VIDEO_SUFFIXES
        )
        for video in videos:
            for adapter in config.adapters:
                if (track_dir(run_dir, adapter.label, video) / TRACK_JSON).is_file():
                    continue
                if not _is_done(run_dir, Job(name, 0, adapter, config.seeds[0])):
                    continue
                _log(quiet, f"tracking {video.name} with {adapter.label}")
                # kpbench track picks the adapter's interpreter itself (envs.interpreter_for).
                cmd = [
                    sys.executable, "-m", "benchmark.cli", "track", str(Path(run_dir).resolve()),
                    "--adapter", adapter.label, "--video", str(video), "--dataset", name,
                    "--threads", str(config.threads), "--quiet",
                ]  # fmt: skip
                # No progress bars: frameworks' own (DeepLabCut's tqdm) would flood the log.
                env = {**child_env(config.threads), "TQDM_DISABLE": "1"}
                rc = subprocess.run(cmd, cwd=run_dir, env=env, check=False).returncode
                if rc != 0:
                    _log(quiet, f"tracking {video.name} with {adapter.label} failed (exit {rc})")


def _is_done(run_dir: Path, job: Job) -> bool:
    path = job_dir(run_dir, job) / JOB_JSON
    return path.is_file() and read_record(path, JobRecord).status == "done"


def _log(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr)
