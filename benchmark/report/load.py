"""Reading a finished (or partly finished) run directory for the report.

Everything here reads stored files only; nothing is recomputed from models. Optional files
and fields may be missing: a run whose jobs all failed has no ``metrics.csv``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.io.predictions import align_predictions, read_predictions

METRIC_COLUMNS = ("run", "dataset", "fold", "adapter", "seed", "keypoint", "metric", "value")
FRAME_ERROR_COLUMNS = ("run", "dataset", "fold", "adapter", "seed", "frame_id", "keypoint")


@dataclass
class Job:
    """One job's stored record (``jobs/<job_id>/job.json``) and where it lives."""

    job_id: str
    dir: Path
    record: dict

    @property
    def dataset(self) -> str:
        """Dataset name."""
        return str(self.record.get("dataset", _parse_job_id(self.job_id)[0]))

    @property
    def adapter(self) -> str:
        """Adapter name."""
        return str(self.record.get("adapter", _parse_job_id(self.job_id)[2]))

    @property
    def fold(self) -> int:
        """Fold index."""
        return int(self.record.get("fold", _parse_job_id(self.job_id)[1]))

    @property
    def seed(self) -> int:
        """Training seed."""
        return int(self.record.get("seed", _parse_job_id(self.job_id)[3]))

    @property
    def status(self) -> str:
        """``done``, ``failed``, or whatever else was stored (an unfinished job)."""
        return str(self.record.get("status") or "unfinished")

    @property
    def predictions_path(self) -> Path:
        """The job's DLC-style predictions CSV (may not exist)."""
        return self.dir / "predictions.csv"


@dataclass
class RunResults:
    """What a run directory holds, as the report needs it.

    Attributes:
        run_dir: The run directory.
        name: Run name (``run.json`` name, else the folder name).
        run: ``run.json`` contents.
        datasets: ``datasets.json`` contents (empty when missing).
        jobs: Every job with a ``job.json``, sorted by job id.
        metrics: Tidy metrics table (``METRIC_COLUMNS``); empty when missing.
        frame_errors: Per-frame errors; ``error_px`` NaN = not detected; empty when missing.
    """

    run_dir: Path
    name: str
    run: dict
    datasets: dict[str, dict]
    jobs: list[Job]
    metrics: pd.DataFrame
    frame_errors: pd.DataFrame

    def dataset_names(self) -> list[str]:
        """Datasets in ``datasets.json`` order, then any others that only jobs mention."""
        names = list(self.datasets)
        for job in self.jobs:
            if job.dataset not in names:
                names.append(job.dataset)
        return names


def _parse_job_id(job_id: str) -> tuple[str, int, str, int]:
    """Split ``<dataset>__fold<k>__<adapter>__seed<s>``; unknown parts become placeholders."""
    parts = job_id.split("__")
    if len(parts) == 4 and parts[1].startswith("fold") and parts[3].startswith("seed"):
        try:
            return parts[0], int(parts[1][4:]), parts[2], int(parts[3][4:])
        except ValueError:
            pass
    return job_id, 0, "unknown", 0


def _read_json(path: Path) -> dict:
    """A JSON object from ``path``, ``{}`` when the file is absent."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    return data


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
    meta = results.datasets.get(name) or {}
    path = results.run_dir / "groundtruth" / f"{name}.csv"
    if not path.is_file() or not meta.get("frame_ids") or not meta.get("image_paths"):
        return None
    labels = read_predictions(path)
    keypoints = list(meta.get("keypoints") or labels.keypoints)
    stored = Dataset(
        name=name,
        skeleton=Skeleton(tuple(keypoints), tuple(tuple(e) for e in meta.get("edges") or [])),
        frame_ids=tuple(meta["frame_ids"]),
        image_paths=tuple(Path(p) for p in meta["image_paths"]),
        points=np.full((len(meta["frame_ids"]), len(keypoints), 2), np.nan),
        source=path,
        meta={k: meta.get(k) for k in ("species", "synthetic")},
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
    run = _read_json(run_dir / "run.json")
    datasets = _read_json(run_dir / "datasets.json")
    jobs = []
    jobs_dir = run_dir / "jobs"
    if jobs_dir.is_dir():
        for job_json in sorted(jobs_dir.glob("*/job.json")):
            jobs.append(Job(job_json.parent.name, job_json.parent, _read_json(job_json)))
    metrics = _read_table(run_dir / "metrics.csv", METRIC_COLUMNS)
    metrics["value"] = pd.to_numeric(metrics["value"], errors="coerce")
    errors = _read_table(run_dir / "frame_errors.csv", (*FRAME_ERROR_COLUMNS, "error_px"))
    errors["error_px"] = pd.to_numeric(errors["error_px"], errors="coerce")
    return RunResults(
        run_dir=run_dir,
        name=str(run.get("name") or run_dir.name),
        run=run,
        datasets=datasets,
        jobs=jobs,
        metrics=metrics,
        frame_errors=errors,
    )
