"""The trained model of a run that ``kpbench track`` uses, found from the run's records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchmark.dataset import Skeleton
from benchmark.errors import InputError
from benchmark.metrics import DEFAULT_THRESHOLDS
from benchmark.records import (
    JobRecord,
    RunManifest,
    read_datasets,
    read_record,
)


@dataclass(frozen=True)
class TrainedModel:
    """A finished job of a run whose model can predict.

    Attributes:
        adapter: Adapter label in the run (``--adapter``).
        adapter_name: Registered adapter name (class to load).
        job_id: The job whose model is used (lowest fold, then seed).
        dataset: Dataset the model was trained on.
        model_dir: The model directory the adapter's ``load`` takes.
        skeleton: Keypoints and edges of the dataset.
        python: The interpreter the run config names for the adapter (``python:``), if any.
        thresholds: The run's PCK thresholds (px).
    """

    adapter: str
    adapter_name: str
    job_id: str
    dataset: str
    model_dir: Path
    skeleton: Skeleton
    python: str | None = None
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS


def find_model(run_dir: str | Path, adapter: str, dataset: str | None = None) -> TrainedModel:
    """The trained model of ``adapter`` in a run (of ``dataset`` when given).

    Raises:
        InputError: Not a run directory, no finished job of that adapter (and dataset), or
            the adapter ran on several datasets and ``dataset`` is not given.
    """
    run_dir = Path(run_dir)
    manifest_path = run_dir / "run.json"
    if not manifest_path.is_file() or not (run_dir / "jobs").is_dir():
        raise InputError(run_dir, "not a kpbench run directory (no run.json or jobs/)")
    manifest = read_record(manifest_path, RunManifest)
    jobs = []
    labels = set()
    for path in sorted((run_dir / "jobs").glob("*/job.json")):
        job = read_record(path, JobRecord)
        if job.status != "done" or not job.model_dir:
            continue
        labels.add(job.adapter)
        if job.adapter == adapter and dataset in (None, job.dataset):
            jobs.append(job)
    if not jobs:
        where = f" on dataset {dataset!r}" if dataset else ""
        known = ", ".join(sorted(labels)) or "none"
        raise InputError(
            run_dir, f"no finished job of adapter {adapter!r}{where} (finished adapters: {known})"
        )
    names = sorted({j.dataset for j in jobs})
    if len(names) > 1:
        raise InputError(
            run_dir,
            f"adapter {adapter!r} ran on several datasets ({', '.join(names)}); "
            "choose one with --dataset",
        )
    job = min(jobs, key=lambda j: (j.fold, j.seed))
    record = read_datasets(run_dir / "datasets.json").get(job.dataset)
    if record is None:
        raise InputError(run_dir / "datasets.json", f"no record of dataset {job.dataset!r}")
    skeleton = Skeleton(tuple(record.keypoints), tuple(tuple(e) for e in record.edges))
    model_dir = job.model_path(run_dir / "jobs" / job.job_id)
    assert model_dir is not None
    if not model_dir.exists():
        raise InputError(model_dir, f"model of job {job.job_id} not found")
    entries = manifest.config.get("adapters") or []
    python = next((a.get("python") for a in entries if a.get("label") == adapter), None)
    return TrainedModel(
        adapter=adapter,
        adapter_name=job.adapter_name,
        job_id=job.job_id,
        dataset=job.dataset,
        model_dir=model_dir,
        skeleton=skeleton,
        python=python,
        thresholds=tuple(manifest.config.get("thresholds") or DEFAULT_THRESHOLDS),
    )


def training_frames(run_dir: str | Path, job_id: str, video_stem: str) -> list[int]:
    """Frames of the video that the job trained on (its split's train and val frames).

    Frames are matched by DeepLabCut's naming of extracted frames,
    ``labeled-data/<video stem>/img<frame number>.<ext>``, which the synthetic projects use.
    """
    from benchmark.splits import load_splits

    run_dir = Path(run_dir)
    job = read_record(run_dir / "jobs" / job_id / "job.json", JobRecord)
    path = run_dir / "splits" / f"{job.dataset}.json"
    if not path.is_file():
        return []
    pattern = re.compile(rf"(?:^|/)labeled-data/{re.escape(video_stem)}/img(\d+)\.\w+$")
    frames = set()
    for split in load_splits(path):
        if split.fold == job.fold:
            for frame_id in (*split.train, *split.val):
                match = pattern.search(frame_id)
                if match:
                    frames.add(int(match.group(1)))
    return sorted(frames)
