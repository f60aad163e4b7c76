"""One job in its own process: train, load, predict, and report timings through JSON files.

Run as ``python -m benchmark.runner.worker SPEC.json``. The spec (written by the runner)
holds the adapter, its config, the seed, the thread count, the training budget and the
train/val/test frames as plain data; test labels are never passed. On success the worker
writes the predictions (DLC-style CSV), one prediction file per learning-curve snapshot
(``curve/``), the predictions on other datasets' test frames for cross-dataset tests
(``transfer/``) and ``result.json``; on failure it exits non-zero and the runner records the
tail of its stderr.

Training time is the harness's clock (:class:`benchmark.budget.TrainingClock`), from the
adapter's ``training_starts()`` to the return of ``train``; the setup before it (framework
import, data conversion) is ``setup_s``. Predicting with the snapshots comes after the
final model's timed prediction and is not timed.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.budget import TrainingClock
from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import DiskFullError, is_no_space
from benchmark.paths import atomic_write_text
from benchmark.records import (
    CurvePoint,
    ModelInfo,
    Timing,
    TrainingInfo,
    WorkerResult,
    write_record,
)
from benchmark.resources import peak_rss_mb, set_threads


def dataset_to_plain(ds: Dataset, with_labels: bool = True) -> dict[str, Any]:
    """A JSON-able form of ``ds`` (labels dropped unless ``with_labels``).

    Declared left/right pairs travel as ``symmetries`` (absent when none are declared).
    """
    points = ds.points if with_labels else np.full_like(ds.points, np.nan)
    plain = {
        "name": ds.name,
        "keypoints": list(ds.keypoints),
        "edges": [list(e) for e in ds.skeleton.edges],
        "frame_ids": list(ds.frame_ids),
        "image_paths": [str(p) for p in ds.image_paths],
        "points": [[[None if np.isnan(v) else float(v) for v in pt] for pt in fr] for fr in points],
        "meta": ds.meta,
    }
    if ds.skeleton.symmetries is not None:
        plain["symmetries"] = [list(p) for p in ds.skeleton.symmetries]
    return plain


def dataset_from_plain(data: dict[str, Any]) -> Dataset | None:
    """Inverse of ``dataset_to_plain``; None for a subset with no frames."""
    if not data["frame_ids"]:
        return None
    points = np.array(
        [[[np.nan if v is None else v for v in pt] for pt in fr] for fr in data["points"]],
        dtype=np.float64,
    )
    return Dataset(
        name=data["name"],
        skeleton=Skeleton(
            tuple(data["keypoints"]),
            tuple(tuple(e) for e in data["edges"]),
            None if data.get("symmetries") is None else tuple(map(tuple, data["symmetries"])),
        ),
        frame_ids=tuple(data["frame_ids"]),
        image_paths=tuple(Path(p) for p in data["image_paths"]),
        points=points.reshape(len(data["frame_ids"]), len(data["keypoints"]), 2),
        format="job",
        meta=data.get("meta") or {},
    )


def resolve_spec(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``spec`` with its file paths (relative to the job folder ``folder``, or absolute in
    specs of older runs) made absolute."""
    keys = ("workdir", "result_path", "progress_path", "predictions_path")
    out = {**spec, **{k: str(folder / spec[k]) for k in keys}}
    out["transfer"] = [
        {**t, "predictions_path": str(folder / t["predictions_path"])}
        for t in spec.get("transfer") or []
    ]
    return out


def run_job(spec: dict[str, Any]) -> WorkerResult:
    """Train, load and predict as ``spec`` (its paths absolute) says; returns the result
    record, whose ``model_dir`` is relative to the job folder when the model lies in it."""
    from adapters.base import check_predictions, read_notes
    from benchmark.io.predictions import write_dlc_predictions
    from benchmark.registry import load_class

    set_threads(int(spec["threads"]))
    progress_path = Path(spec["progress_path"])

    def progress(values: dict[str, Any]) -> None:
        atomic_write_text(progress_path, json.dumps({**values, "time": time.time()}))

    progress({"phase": "setting up (framework import, data conversion)"})
    workdir = Path(spec["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    budget_s = spec.get("budget_s")
    clock = TrainingClock(budget_s=budget_s, snapshot_root=workdir / "snapshots")
    adapter_cls = load_class(spec["adapter"])
    adapter = adapter_cls(progress=progress, clock=clock)
    config = adapter_cls.resolve_config(spec["adapter_config"])
    train = dataset_from_plain(spec["train"])
    val = dataset_from_plain(spec["val"])
    test = dataset_from_plain(spec["test"])
    assert train is not None and test is not None

    model_dir = Path(adapter.train(train, val, workdir, config, int(spec["seed"])))
    train_s, train_cpu_s, setup_s = clock.elapsed(), clock.elapsed_cpu(), clock.setup_s

    progress({"phase": "loading the model and predicting the test frames"})
    t0 = time.perf_counter()
    predictor = adapter.load(model_dir, workdir)
    load_s = time.perf_counter() - t0
    predictor(test.subset(test.frame_ids[:1]))  # warm-up, not timed
    t0 = time.perf_counter()
    pred = predictor(test)
    predict_s = time.perf_counter() - t0
    pred = check_predictions(pred, test, spec["adapter"])
    write_dlc_predictions(
        Path(spec["predictions_path"]), test.frame_ids, test.keypoints, pred, scorer=spec["label"]
    )
    score_cutoff = getattr(predictor, "score_cutoff", None)
    timing = Timing(
        train_s=train_s,
        train_cpu_s=train_cpu_s,
        load_s=load_s,
        predict_s=predict_s,
        predict_fps=test.n_frames / predict_s if predict_s > 0 else None,
        peak_rss_mb=peak_rss_mb(),
        threads=int(spec["threads"]),
        setup_s=setup_s,
    )
    transfer_errors = _predict_transfers(predictor, spec, progress)
    del predictor
    curve = _predict_snapshots(adapter, model_dir, workdir, test, clock, spec, progress)
    notes = read_notes(model_dir)
    job_folder = Path(spec["predictions_path"]).parent.resolve()
    stored_dir = model_dir.resolve()
    if stored_dir.is_relative_to(job_folder):
        stored_dir = stored_dir.relative_to(job_folder)
    return WorkerResult(
        model_dir=str(stored_dir),
        timing=timing,
        model=ModelInfo(**adapter.model_info(model_dir)),
        adapter_config=dict(notes.get("adapter_config") or config),
        framework_version=adapter_cls.version(),
        notes=notes,
        environment={**_environment(), **adapter_cls.environment_info()},
        training=TrainingInfo(
            budget_s=budget_s,
            stopped_by_budget=clock.stopped_by_budget,
            epochs_done=clock.epochs_done,
            epochs_planned=clock.epochs_planned,
        ),
        curve=curve,
        score_cutoff=None if score_cutoff is None else float(score_cutoff),
        transfer_errors=transfer_errors,
    )


def _predict_transfers(predictor: Any, spec: dict[str, Any], progress: Any) -> dict[str, str]:
    """Predict each cross-dataset test's frames with the final model (not timed); returns
    the errors of those it could not predict (the job itself is unaffected)."""
    from adapters.base import check_predictions
    from benchmark.io.predictions import write_dlc_predictions

    errors = {}
    for entry in spec.get("transfer") or []:
        progress({"phase": f"cross-dataset test: predicting {entry['name']}"})
        frames = dataset_from_plain(entry["frames"])
        assert frames is not None
        try:
            pred = check_predictions(predictor(frames), frames, spec["adapter"])
            write_dlc_predictions(
                Path(entry["predictions_path"]), frames.frame_ids, frames.keypoints, pred,
                scorer=spec["label"],
            )  # fmt: skip
        except Exception as exc:
            errors[entry["name"]] = f"{type(exc).__name__}: {exc}"
    return errors


def _predict_snapshots(
    adapter: Any,
    model_dir: Path,
    workdir: Path,
    test: Dataset,
    clock: TrainingClock,
    spec: dict[str, Any],
    progress: Any,
) -> list[CurvePoint]:
    """Predict the test frames with every snapshot the clock asked for (not timed).

    A snapshot that cannot be loaded or predicted is recorded with its error; the job's
    final model is unaffected.
    """
    from adapters.base import check_predictions
    from benchmark.io.predictions import write_dlc_predictions

    job_folder = Path(spec["predictions_path"]).parent
    points = []
    for i, snap in enumerate(clock.snapshots, start=1):
        progress({"phase": f"learning curve: snapshot {i} of {len(clock.snapshots)}"})
        rel = f"curve/epoch-{snap.epoch:05d}.csv"
        try:
            pred = adapter.load(model_dir, workdir, snapshot=snap.path)(test)
            pred = check_predictions(pred, test, spec["adapter"])
            write_dlc_predictions(
                job_folder / rel, test.frame_ids, test.keypoints, pred, scorer=spec["label"]
            )
        except Exception as exc:
            points.append(
                CurvePoint(snap.epoch, snap.train_s, None, f"{type(exc).__name__}: {exc}")
            )
            continue
        points.append(CurvePoint(snap.epoch, snap.train_s, rel))
    return points


def _environment() -> dict[str, Any]:
    """Host (on a cluster: the compute node), interpreter, torch and device of this worker."""
    from benchmark.runner.provenance import cpu_model

    env: dict[str, Any] = {
        "node": socket.gethostname(),
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "executable": sys.executable,
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
        env["cuda"] = torch.cuda.is_available()
        env["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        env["torch"] = None
    return env


#: The worker's exit code when a write failed for want of disk space (ENOSPC's number):
#: its own log may not have been written, so the runner names the cause from the code.
EXIT_NO_SPACE = 28


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m benchmark.runner.worker SPEC.json``."""
    argv = sys.argv[1:] if argv is None else argv
    spec_path = Path(argv[0])
    spec = resolve_spec(json.loads(spec_path.read_text()), spec_path.resolve().parent)
    try:
        write_record(Path(spec["result_path"]), run_job(spec))
    except (OSError, DiskFullError) as exc:
        if not is_no_space(exc):
            raise
        path = getattr(exc, "filename", None) or getattr(exc, "path", None)
        with contextlib.suppress(OSError):  # the log itself may be on the full disk
            print(f"{DiskFullError(path)}", file=sys.stderr, flush=True)
        return EXIT_NO_SPACE
    return 0


if __name__ == "__main__":
    sys.exit(main())
