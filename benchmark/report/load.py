"""Reading a finished (or partly finished) run directory for the report.

Everything here reads stored files only; nothing is recomputed from models. Optional files
and fields may be missing: a run whose jobs all failed has no ``metrics.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.io.predictions import align_predictions, read_predictions
from benchmark.metrics import DEFAULT_THRESHOLDS
from benchmark.records import DatasetRecord, JobRecord, RunManifest, read_datasets, read_record
from benchmark.runner.config import RunConfig

METRIC_COLUMNS = ("run", "dataset", "fold", "adapter", "seed", "keypoint", "metric", "value")
FRAME_ERROR_COLUMNS = ("run", "dataset", "fold", "adapter", "seed", "frame_id", "keypoint")
CURVE_COLUMNS = (
    "run", "dataset", "fold", "adapter", "seed", "epoch", "train_s", "final", "metric", "value"
)  # fmt: skip


#: Key columns of the studies (runs from before them lack these: main view only).
STUDY_COLUMNS = ("train_size", "inner_fold", "test_dataset")


@dataclass
class StudyTables:
    """The full tables of a run (every row), for the studies' report sections."""

    metrics: pd.DataFrame
    frame_errors: pd.DataFrame
    curves: pd.DataFrame | None


def main_view(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of jobs trained on the fold's whole training set and tested on its own
    test frames, without the studies' key columns."""
    keep = pd.Series(True, index=table.index)
    if "train_size" in table.columns:
        keep &= table["train_size"].isna()
    if "inner_fold" in table.columns:
        keep &= table["inner_fold"].isna()
    if "test_dataset" in table.columns:
        keep &= table["test_dataset"].astype(str) == table["dataset"].astype(str)
    extra = [c for c in STUDY_COLUMNS if c in table.columns]
    return table[keep].drop(columns=extra).reset_index(drop=True)


def with_study_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the studies' key columns (filled as the main view for old runs)."""
    table = table.copy()
    for column in ("train_size", "inner_fold"):
        if column not in table.columns:
            table[column] = np.nan
        table[column] = pd.to_numeric(table[column], errors="coerce")
    if "test_dataset" not in table.columns:
        table["test_dataset"] = table["dataset"]
    table["test_dataset"] = table["test_dataset"].fillna(table["dataset"]).astype(str)
    return table


@dataclass
class RunResults:
    """What a run directory holds, as the report needs it.

    Attributes:
        run_dir: The run directory.
        name: Run name (``run.json`` name, else the folder name).
        run: The run's manifest (``run.json``).
        datasets: ``datasets.json`` records (empty when missing).
        jobs: Every job with a ``job.json``, sorted by job id.
        metrics: Tidy metrics table (``METRIC_COLUMNS``); empty when missing.
        frame_errors: Per-frame errors; ``error_px`` NaN = not detected; ``scored_px`` (a
            miss counted at the penalty) in runs that store it; empty when missing.
        curves: Learning curves (``CURVE_COLUMNS``, metrics of every snapshot and of the
            final model); None when the run has no ``curves.csv`` (it predates snapshots).
        studies: Every row of the three tables, the studies' included (label-efficiency
            subsets, inner folds of sweeps, cross-dataset tests), with their key columns
            (``STUDY_COLUMNS``). ``metrics``, ``frame_errors`` and ``curves`` hold only the
            main view: each job trained on its fold's training set and tested on its test
            frames (``jobs`` likewise; ``study_jobs`` holds every job).
    """

    run_dir: Path
    name: str
    run: RunManifest
    datasets: dict[str, DatasetRecord]
    jobs: list[JobRecord]
    metrics: pd.DataFrame
    frame_errors: pd.DataFrame
    curves: pd.DataFrame | None = None
    studies: StudyTables | None = None
    study_jobs: list[JobRecord] = field(default_factory=list)

    @property
    def has_scored_errors(self) -> bool:
        """Whether the frame errors hold ``scored_px`` (runs since the ranking metric)."""
        return "scored_px" in self.frame_errors.columns

    @property
    def budget_recorded(self) -> bool:
        """Whether the run's config says what its training budget was (runs since budgets)."""
        return isinstance(self.run.config.get("budget"), dict)

    @property
    def budget_s(self) -> float | None:
        """The run's training budget per job in seconds; None without one."""
        budget = self.run.config.get("budget")
        value = budget.get("train_s") if isinstance(budget, dict) else None
        return float(value) if isinstance(value, int | float) and value > 0 else None

    @property
    def thresholds(self) -> tuple[float, ...]:
        """The run's PCK thresholds (px)."""
        return tuple(self.run.config.get("thresholds") or DEFAULT_THRESHOLDS)

    @property
    def description(self) -> str:
        """The run config's one line on what the run shows ("" when none)."""
        return str(self.run.config.get("description") or "")

    @property
    def target_pck(self) -> tuple[float, float]:
        """The time-to-accuracy table's common target: PCK at T px reaching a share."""
        value = self.run.config.get("target_pck")
        if isinstance(value, list | tuple) and len(value) == 2:
            return float(value[0]), float(value[1])
        return RunConfig.target_pck

    @property
    def overlay_frames(self) -> int:
        """Test frames per dataset the run config asks the overlay grid to show."""
        value = self.run.config.get("overlay_frames")
        return int(value) if isinstance(value, int) else RunConfig.overlay_frames

    def predictions_path(self, job: JobRecord) -> Path:
        """The job's DLC-style predictions CSV (may not exist)."""
        return self.run_dir / "jobs" / job.job_id / "predictions.csv"

    def dataset_names(self) -> list[str]:
        """Datasets in ``datasets.json`` order, then any others that only jobs mention."""
        names = list(self.datasets)
        for job in self.jobs:
            if job.dataset not in names:
                names.append(job.dataset)
        return names


def _read_table(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """A CSV with at least the ``required`` columns; an empty frame when the file is absent."""
    if not path.is_file():
        return pd.DataFrame(columns=[*required])
    try:
        table = pd.read_csv(path, dtype={"run": str, "dataset": str, "adapter": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=[*required])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable CSV ({exc})") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(path, f"missing columns: {', '.join(missing)}")
    for col in ("keypoint", "frame_id", "metric"):
        if col in table.columns:
            table[col] = table[col].astype(str)
    return table


def ground_truth(results: RunResults, name: str) -> Dataset | None:
    """A dataset's labels and images as stored in the run (``groundtruth/`` + ``datasets.json``).

    Returns None when the run lacks the ground-truth file or the dataset's frame list.
    """
    meta = results.datasets.get(name)
    path = results.run_dir / "groundtruth" / f"{name}.csv"
    if meta is None or not path.is_file() or not meta.frame_ids or not meta.image_paths:
        return None
    labels = read_predictions(path)
    keypoints = list(meta.keypoints or labels.keypoints)
    stored = Dataset(
        name=name,
        skeleton=Skeleton(tuple(keypoints), tuple(tuple(e) for e in meta.edges)),
        frame_ids=tuple(meta.frame_ids),
        image_paths=tuple(Path(p) for p in meta.image_paths),
        points=np.full((len(meta.frame_ids), len(keypoints), 2), np.nan),
        source=path,
        meta={"species": meta.species, "synthetic": meta.synthetic},
    )
    return stored.with_points(align_predictions(stored, labels, path))


def load_run(run_dir: str | Path) -> RunResults:
    """Read a run directory written by ``kpbench run``.

    Raises:
        InputError: The folder is not a run directory, or one of its files is unreadable.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "run directory not found")
    if not (run_dir / "run.json").is_file():
        raise InputError(
            run_dir, "not a kpbench run directory (no run.json; `kpbench run` writes one)"
        )
    run = read_record(run_dir / "run.json", RunManifest)
    datasets = read_datasets(run_dir / "datasets.json")
    jobs = [read_record(p, JobRecord) for p in sorted(run_dir.glob("jobs/*/job.json"))]
    metrics = _read_table(run_dir / "metrics.csv", METRIC_COLUMNS)
    metrics["value"] = pd.to_numeric(metrics["value"], errors="coerce")
    errors = _read_table(run_dir / "frame_errors.csv", (*FRAME_ERROR_COLUMNS, "error_px"))
    for column in ("error_px", "scored_px"):
        if column in errors.columns:
            errors[column] = pd.to_numeric(errors[column], errors="coerce")
    curves = None
    if (run_dir / "curves.csv").is_file():
        curves = _read_table(run_dir / "curves.csv", CURVE_COLUMNS)
        for column in ("epoch", "train_s", "value"):
            curves[column] = pd.to_numeric(curves[column], errors="coerce")
        curves["final"] = curves["final"].astype(str).str.lower().isin(("true", "1", "1.0"))
    studies = StudyTables(
        with_study_columns(metrics),
        with_study_columns(errors),
        None if curves is None else with_study_columns(curves),
    )
    return RunResults(
        run_dir=run_dir,
        name=run.name or run_dir.name,
        run=run,
        datasets=datasets,
        jobs=[j for j in jobs if j.train_size is None and j.inner_fold is None],
        metrics=main_view(studies.metrics),
        frame_errors=main_view(studies.frame_errors),
        curves=None if studies.curves is None else main_view(studies.curves),
        studies=studies,
        study_jobs=jobs,
    )
