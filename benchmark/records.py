"""The records of a run directory, typed and versioned: every writer and reader uses these.

| file | record | written by |
|---|---|---|
| ``run.json`` | :class:`RunManifest` | the runner, when the run starts |
| ``datasets.json`` | name -> :class:`DatasetRecord` | the runner |
| ``jobs/<id>/result.json`` | :class:`WorkerResult` | the job's worker process |
| ``jobs/<id>/job.json`` | :class:`JobRecord` | the runner, when the job ends |
| ``tracks/<adapter>__<video>/track.json`` | :class:`TrackRecord` | ``kpbench track`` |

Each JSON object carries ``schema`` (:data:`SCHEMA`). A record without one was written before
records were versioned (schema 0, the same fields) and is read; a newer schema than this
kpbench knows is refused with a message naming both versions. Unknown keys are ignored, so a
reader can skip fields it does not use; a missing required field is an error naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from benchmark.errors import InputError
from benchmark.paths import atomic_write_text

#: Version of the records this kpbench writes (and the newest it reads).
SCHEMA = 1

R = TypeVar("R")


# ----------------------------------------------------------------------------- run
@dataclass(frozen=True)
class RunManifest:
    """``run.json``: what the run is; its presence makes a folder a kpbench run.

    Attributes:
        name: Run name.
        created: ISO time the run started.
        kpbench_version: kpbench that made the run.
        git_commit: Commit of kpbench's code, when it ran from a git checkout.
        host: Hardware and software of the machine (CPU, cores, memory, GPU, torch).
        config: The resolved run config (``RunConfig.to_dict``).
        skipped_datasets: Optional datasets that could not be had, with the reason.
        planned_jobs: Jobs the run consists of (every study job included); None in runs
            from before it was recorded.
    """

    name: str
    created: str
    kpbench_version: str
    git_commit: str | None
    config: dict[str, Any]
    host: dict[str, Any] = field(default_factory=dict)
    skipped_datasets: dict[str, str] = field(default_factory=dict)
    planned_jobs: int | None = None
    schema: int = SCHEMA


@dataclass(frozen=True)
class DatasetRecord:
    """One entry of ``datasets.json``: what the report needs to know about a dataset."""

    species: str | None
    synthetic: bool
    source: str | None
    format: str
    hash: str
    keypoints: list[str]
    edges: list[list[str]]
    n_frames: int
    image_size: list[int] | None
    frame_ids: list[str]
    image_paths: list[str]


# ----------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class Timing:
    """What the harness measured around a job's adapter calls (see DESIGN.md, Metrics)."""

    train_s: float
    train_cpu_s: float
    load_s: float
    predict_s: float
    predict_fps: float | None
    peak_rss_mb: float
    threads: int
    #: Framework import and data conversion before training proper (not in ``train_s``).
    setup_s: float = 0.0


@dataclass(frozen=True)
class TrainingInfo:
    """How training ended, measured by the harness's clock (:mod:`benchmark.budget`).

    Attributes:
        budget_s: The run's training budget (None: no budget).
        stopped_by_budget: The budget ended training before the adapter's schedule did.
        epochs_done: Epochs finished.
        epochs_planned: Epochs the adapter's schedule had (None when it did not say).
    """

    budget_s: float | None = None
    stopped_by_budget: bool = False
    epochs_done: int = 0
    epochs_planned: int | None = None


@dataclass(frozen=True)
class CurvePoint:
    """A learning-curve snapshot: when it was taken and its test-frame predictions.

    Attributes:
        epoch: Epochs finished when the snapshot was taken.
        train_s: Training seconds (the harness's clock) at that moment.
        predictions: Prediction file, relative to the job folder (None if it failed).
        error: Why predicting with this snapshot failed.
    """

    epoch: int
    train_s: float
    predictions: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """Size of a trained model (None where the adapter cannot tell)."""

    n_params: int | None = None
    model_mb: float | None = None


@dataclass(frozen=True)
class WorkerResult:
    """``result.json``: what a worker reports after training, loading and predicting.

    Attributes:
        model_dir: The trained model's folder (what the adapter's ``load`` takes), relative
            to the job folder (absolute only for a model outside it).
        timing: Measured times and memory.
        model: Parameter count and size on disk.
        adapter_config: The options the adapter trained with: the resolved options, or
            its notes' ``adapter_config`` when it has one (an adapter may choose options
            from the data, e.g. SLEAP's recommended ones).
        framework_version: Version of the wrapped framework.
        notes: What the adapter recorded about training (``kpbench_notes.json``).
        environment: Interpreter, torch, device and framework versions of the worker.
        training: Budget and how training ended.
        curve: The learning-curve snapshots, in training order (the final model is not
            among them: it is the curve's last point).
        score_cutoff: The framework's own score cutoff (the predictor's ``score_cutoff``).
        transfer_errors: Cross-dataset test frames the model could not predict: test
            dataset -> the error (the job itself is unaffected).
    """

    model_dir: str
    timing: Timing
    model: ModelInfo
    adapter_config: dict[str, Any]
    framework_version: str | None
    notes: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    training: TrainingInfo = field(default_factory=TrainingInfo)
    curve: list[CurvePoint] = field(default_factory=list)
    score_cutoff: float | None = None
    transfer_errors: dict[str, str] = field(default_factory=dict)
    status: str = "done"
    schema: int = SCHEMA


@dataclass(frozen=True)
class Execution:
    """Where and how a job's worker ran.

    Attributes:
        executor: ``local`` or ``slurm``.
        node: Host that ran the worker (a cluster's compute node), when known.
        slurm_job_id: Slurm's id of the job (Slurm only).
        cpus: CPUs the worker was pinned to (local slots only).
        gpu: GPU the worker saw (local slots only).
    """

    executor: str = "local"
    node: str | None = None
    slurm_job_id: str | None = None
    cpus: list[int] | None = None
    gpu: str | None = None


#: Job statuses: ``done`` (metrics computed), ``failed`` (error recorded), ``skipped`` (an
#: optional adapter that cannot run here).
STATUSES = ("done", "failed", "skipped")


@dataclass(frozen=True)
class JobRecord:
    """``job.json``: one job (dataset x fold x adapter x seed) and how it ended.

    Attributes:
        job_id: ``<dataset>__fold<k>__<label>__seed<s>``, also the job's folder name.
        dataset: Dataset name.
        fold: Fold index.
        adapter: Adapter label in the run.
        adapter_name: Registered adapter name.
        seed: Training seed.
        adapter_config: Options as the run config gave them.
        provenance: kpbench version and commit, host, dataset and split hashes.
        status: One of :data:`STATUSES`.
        python: Interpreter the worker ran in.
        error: Why the job failed or was skipped.
        stderr_tail: Last lines of the worker's stderr when it failed.
        metrics: The harness's metrics of the job's predictions (``metrics.summarize``).
        execution: The executor, node and cluster job id that ran the worker.
        train_size: Label efficiency: frames of the job's nested training subset; None when
            it trained on the fold's whole training set.
        inner_fold: Nested cross-validation: the inner fold (of the fold's training frames)
            the job trained and was tested on; None for a job tested on the fold's test set.
        n_train: Training frames the job got.
        transfer: Cross-dataset tests: test dataset -> its metrics (``summarize``) with the
            keypoint mapping used and the keypoints left out, or the error.
        selection: Nested cross-validation: the sweep point chosen for this job and every
            point's inner-fold error.
        model_dir, timing, model, framework_version, notes, environment, training, curve,
            score_cutoff: From the worker's :class:`WorkerResult` (done jobs only);
            ``model_dir`` relative to the job folder (see :meth:`model_path`).
    """

    job_id: str
    dataset: str
    fold: int
    adapter: str
    adapter_name: str
    seed: int
    adapter_config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    status: str = "failed"
    python: str | None = None
    error: str | None = None
    stderr_tail: str = ""
    metrics: dict[str, Any] | None = None
    model_dir: str | None = None
    timing: Timing | None = None
    model: ModelInfo | None = None
    framework_version: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    training: TrainingInfo | None = None
    curve: list[CurvePoint] = field(default_factory=list)
    score_cutoff: float | None = None
    execution: Execution | None = None
    train_size: int | None = None
    inner_fold: int | None = None
    n_train: int | None = None
    transfer: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"job status must be one of {', '.join(STATUSES)}, not {self.status!r}"
            )

    def finished(self, result: WorkerResult, metrics: dict[str, Any]) -> JobRecord:
        """This job, done, with the worker's result and the harness's metrics."""
        return dataclasses.replace(
            self,
            status="done",
            error=None,
            stderr_tail="",
            metrics=metrics,
            model_dir=result.model_dir,
            timing=result.timing,
            model=result.model,
            adapter_config=result.adapter_config,
            framework_version=result.framework_version,
            notes=result.notes,
            environment=result.environment,
            training=result.training,
            curve=list(result.curve),
            score_cutoff=result.score_cutoff,
        )

    def model_path(self, job_folder: Path) -> Path | None:
        """The trained model's folder, for this record read from ``job_folder``.

        ``model_dir`` is stored relative to the job folder, so a run folder can be copied or
        moved. Older runs stored it absolute: such a path inside a ``jobs/<job_id>/`` folder
        is taken from this job folder when it is there (a copied run must not use the
        original run's model), else as stored.
        """
        if self.model_dir is None:
            return None
        stored = Path(self.model_dir)
        if not stored.is_absolute():
            return job_folder / stored
        parts = stored.parts
        for i in range(len(parts) - 1, 0, -1):
            if parts[i - 1] == "jobs" and parts[i] == self.job_id:
                here = job_folder.joinpath(*parts[i + 1 :])
                if here.exists() or not stored.exists():
                    return here
                break
        return stored

    def ended(self, status: str, error: str, stderr_tail: str = "") -> JobRecord:
        """This job, failed or skipped, with why."""
        return dataclasses.replace(self, status=status, error=error, stderr_tail=stderr_tail)


# ----------------------------------------------------------------------------- tracks
@dataclass(frozen=True)
class TrackTiming:
    """End-to-end and per-stage times of ``kpbench track`` on one video.

    Attributes:
        inference: ``framework`` (the framework's own video reader and inference),
            ``frames`` (frames decoded by kpbench, predicted in memory) or ``files`` (as PNGs).
        frame_counts: With the framework's reader: frames ``decoded`` by kpbench and
            ``predicted`` by the framework.
    """

    load_s: float
    total_s: float
    end_to_end_fps: float | None
    predict_s: float
    predict_fps: float | None
    decode_s: float
    draw_encode_write_s: float
    peak_rss_mb: float
    threads: int | None
    chunk_size: int
    inference: str
    frame_counts: dict[str, int] | None = None


@dataclass(frozen=True)
class TrackRecord:
    """``track.json``: one adapter's track of one video.

    Attributes:
        temporal: Jitter, jumps, missing and still shares (``video.temporal``).
        groundtruth: Accuracy against per-frame ground truth, when the video has it
            (``unseen``: over the frames the model never trained on).
        files: The track folder's files (predictions, still, labelled video).
    """

    adapter: str
    adapter_name: str
    job_id: str
    dataset: str
    video: str
    video_stem: str
    n_frames: int
    width: int
    height: int
    video_fps: float | None
    keypoints: list[str]
    edges: list[list[str]]
    min_score: float
    timing: TrackTiming
    temporal: dict[str, Any]
    groundtruth: dict[str, Any] | None
    files: dict[str, str]
    schema: int = SCHEMA


# ----------------------------------------------------------------------------- files
def write_record(path: str | Path, record: Any) -> None:
    """Write a record as JSON, atomically."""
    atomic_write_text(path, json.dumps(asdict(record), indent=2, default=str))


def read_record(path: str | Path, cls: type[R]) -> R:
    """Read a record of type ``cls`` from a JSON file.

    Raises:
        InputError: The file is unreadable, not a JSON object, of a newer schema than this
            kpbench reads, or lacks a required field.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc.__class__.__name__})") from None
    return from_plain(cls, data, path)


def read_datasets(path: str | Path) -> dict[str, DatasetRecord]:
    """``datasets.json``: every dataset of the run by name (empty when absent)."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object of datasets by name")
    return {name: from_plain(DatasetRecord, entry, path) for name, entry in data.items()}


def write_datasets(path: str | Path, records: dict[str, DatasetRecord]) -> None:
    """Write ``datasets.json`` atomically."""
    atomic_write_text(path, json.dumps({n: asdict(r) for n, r in records.items()}, indent=2))


def from_plain(cls: type[R], data: Any, path: Path) -> R:
    """A record of type ``cls`` from parsed JSON (nested records included).

    Raises:
        InputError: See :func:`read_record`.
    """
    if not isinstance(data, dict):
        raise InputError(path, f"expected a JSON object ({cls.__name__})")
    version = data.get("schema", 0)
    if not isinstance(version, int) or version > SCHEMA:
        raise InputError(
            path,
            f"written by a newer kpbench (record schema {version}); this kpbench "
            f"reads schema {SCHEMA} and older: upgrade kpbench to read this run",
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InputError(path, f"lacks {f.name!r}: not a kpbench {cls.__name__} record")
            continue
        value = data[f.name]
        nested = _record_type(hints[f.name])
        item = _list_item_type(hints[f.name])
        if nested and value is not None:
            value = from_plain(nested, value, path)
        elif item and isinstance(value, list):
            value = [from_plain(item, v, path) for v in value]
        values[f.name] = value
    values.pop("schema", None)  # a record read is held (and rewritten) as this schema
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"not a valid {cls.__name__} record ({exc})") from None


def _list_item_type(hint: Any) -> type | None:
    """The record class of a ``list[Record]`` field, if it is one."""
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        if dataclasses.is_dataclass(item) and isinstance(item, type):
            return item
    return None


def _record_type(hint: Any) -> type | None:
    """The record class in a field's type (``Timing | None`` -> ``Timing``), if any."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if dataclasses.is_dataclass(option) and isinstance(option, type):
            return option
    return None
