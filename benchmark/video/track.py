"""``kpbench track``: run a trained model of a run on every frame of a video.

Frames are decoded, predicted, drawn and encoded a chunk at a time, so memory does not grow
with the video's length; only the ``(n_frames, k, 3)`` predictions are kept. Results go to
``RUN_DIR/tracks/<adapter>__<video stem>/``:

- ``predictions.csv``: DeepLabCut-style table (x, y, likelihood), index = frame number;
- ``labelled.mp4``: H.264 (yuv420p) video with the poses drawn (unless ``--out`` moves it);
- ``still.png``: one labelled frame from the middle of the video, for the report;
- ``frame_errors.csv``: error per frame and keypoint when the video has ground truth
  (``<video stem>_groundtruth.csv`` beside it, as the synthetic generators write);
- ``track.json``: timings (end-to-end FPS: decode + predict + draw + encode + write),
  temporal metrics, accuracy against the ground truth, and the files above.
"""

from __future__ import annotations

import inspect
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.io.predictions import read_predictions, write_dlc_predictions
from benchmark.paths import atomic_path, atomic_write_text
from benchmark.video.draw import draw_pose, keypoint_colors, tile
from benchmark.video.io import read_chunks, video_info
from benchmark.video.temporal import default_thresholds, temporal_metrics

TRACKS = "tracks"
TRACK_JSON = "track.json"
PREDICTIONS = "predictions.csv"
LABELLED = "labelled.mp4"
STILL = "still.png"
FRAME_ERRORS = "frame_errors.csv"
GT_SUFFIX = "_groundtruth.csv"
PCK_THRESHOLDS = (2.0, 5.0, 10.0, 20.0)

FramePredictor = Callable[[Sequence[np.ndarray]], np.ndarray]


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
    """

    adapter: str
    adapter_name: str
    job_id: str
    dataset: str
    model_dir: Path
    skeleton: Skeleton


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read JSON ({exc.__class__.__name__})") from None


def find_model(run_dir: str | Path, adapter: str, dataset: str | None = None) -> TrainedModel:
    """The trained model of ``adapter`` in a run (of ``dataset`` when given).

    Raises:
        InputError: Not a run directory, no finished job of that adapter (and dataset), or
            the adapter ran on several datasets and ``dataset`` is not given.
    """
    run_dir = Path(run_dir)
    records_path = run_dir / "datasets.json"
    if not (run_dir / "jobs").is_dir() or not records_path.is_file():
        raise InputError(run_dir, "not a run directory (no jobs/ or datasets.json)")
    jobs = []
    labels = set()
    for path in sorted((run_dir / "jobs").glob("*/job.json")):
        job = _read_json(path)
        if job.get("status") != "done" or not job.get("model_dir"):
            continue
        labels.add(str(job.get("adapter")))
        if job.get("adapter") == adapter and dataset in (None, job.get("dataset")):
            jobs.append(job)
    if not jobs:
        where = f" on dataset {dataset!r}" if dataset else ""
        known = ", ".join(sorted(labels)) or "none"
        raise InputError(
            run_dir, f"no finished job of adapter {adapter!r}{where} (finished adapters: {known})"
        )
    names = sorted({j["dataset"] for j in jobs})
    if len(names) > 1:
        raise InputError(
            run_dir,
            f"adapter {adapter!r} ran on several datasets ({', '.join(names)}); "
            "choose one with --dataset",
        )
    job = min(jobs, key=lambda j: (int(j.get("fold", 0)), int(j.get("seed", 0))))
    record = _read_json(records_path).get(job["dataset"])
    if record is None:
        raise InputError(records_path, f"no record of dataset {job['dataset']!r}")
    skeleton = Skeleton(
        tuple(record["keypoints"]), tuple(tuple(e) for e in record.get("edges") or [])
    )
    model_dir = Path(job["model_dir"])
    if not model_dir.exists():
        raise InputError(model_dir, f"model of job {job['job_id']} not found")
    return TrainedModel(
        adapter=adapter,
        adapter_name=str(job.get("adapter_name") or adapter),
        job_id=str(job["job_id"]),
        dataset=str(job["dataset"]),
        model_dir=model_dir,
        skeleton=skeleton,
    )


def frame_predictor(predictor: Any, skeleton: Skeleton, scratch: Path) -> FramePredictor:
    """A function from RGB frames to ``(n, k, 3)`` predictions in ``skeleton`` order.

    Uses the predictor's ``predict_images`` (frames in memory) when it has one; otherwise
    writes each chunk as PNG files into ``scratch`` and calls the predictor on them as a
    :class:`Dataset` (every adapter can do that).
    """
    k = len(skeleton.keypoints)

    def checked(pred: np.ndarray, n: int) -> np.ndarray:
        pred = np.asarray(pred, dtype=np.float64)
        if pred.shape != (n, k, 3):
            raise ValueError(f"the predictor returned shape {pred.shape}, expected ({n}, {k}, 3)")
        pred[~np.isfinite(pred[..., :2]).all(axis=-1), :2] = np.nan
        return pred

    direct = getattr(predictor, "predict_images", None)
    if direct is not None:
        if "keypoints" in inspect.signature(direct).parameters:  # DeepLabCut's predictor
            return lambda images: checked(direct(images, keypoints=skeleton.keypoints), len(images))
        return lambda images: checked(direct(images), len(images))

    def via_files(images: Sequence[np.ndarray]) -> np.ndarray:
        names = [f"frame{i:06d}.png" for i in range(len(images))]
        for name, image in zip(names, images, strict=True):
            Image.fromarray(np.asarray(image)).save(scratch / name, compress_level=1)
        frames = Dataset(
            name="video",
            skeleton=skeleton,
            frame_ids=tuple(names),
            image_paths=tuple(scratch / n for n in names),
            points=np.full((len(names), k, 2), np.nan),
            format="video",
        )
        return checked(predictor(frames), len(images))

    return via_files


def ground_truth_path(video: Path) -> Path | None:
    """``<stem>_groundtruth.csv`` beside the video, when it exists."""
    path = video.with_name(video.stem + GT_SUFFIX)
    return path if path.is_file() else None


def _video_ground_truth(path: Path, keypoints: Sequence[str], n: int) -> np.ndarray | None:
    """``(n, k, 2)`` ground truth per video frame (NaN = hidden), or None if it does not fit."""
    gt = read_predictions(path)
    index = {name: j for j, name in enumerate(gt.keypoints)}
    if any(name not in index for name in keypoints):
        return None
    try:
        rows = [int(float(f)) for f in gt.frame_ids]
    except ValueError:
        return None
    out = np.full((n, len(keypoints), 2), np.nan)
    cols = [index[name] for name in keypoints]
    for row, frame in enumerate(rows):
        if 0 <= frame < n:
            out[frame] = gt.values[row, cols, :2]
    return out


def _accuracy(gt: np.ndarray, pred: np.ndarray, keypoints: Sequence[str]) -> dict:
    """Metrics over every video frame, as ``kpbench evaluate`` computes them (no CI)."""
    from benchmark.metrics import summarize

    return summarize(gt, pred, keypoints, thresholds=PCK_THRESHOLDS, n_boot=0)


def _write_frame_errors(path: Path, err: np.ndarray, keypoints: Sequence[str]) -> None:
    import pandas as pd

    n, k = err.shape
    table = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(n), k),
            "keypoint": np.tile(np.asarray(keypoints, dtype=object), n),
            "error_px": err.reshape(-1),
        }
    )
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def track_dir(run_dir: str | Path, adapter: str, video: str | Path) -> Path:
    """``RUN_DIR/tracks/<adapter>__<video stem>``."""
    return Path(run_dir) / TRACKS / f"{adapter}__{Path(video).stem}"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (ffmpeg children excluded)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total or None, desc=desc, unit="frame", disable=not enabled, leave=True)


def track_video(
    run_dir: str | Path,
    adapter: str,
    video: str | Path,
    *,
    out: str | Path | None = None,
    csv: str | Path | None = None,
    dataset: str | None = None,
    chunk_size: int = 32,
    min_score: float = 0.5,
    threads: int | None = 1,
    progress: bool = True,
) -> dict:
    """Track every frame of ``video`` with the trained ``adapter`` of a run.

    Args:
        run_dir: A run directory with a finished job of ``adapter``.
        adapter: Adapter label in the run.
        video: Any video ffmpeg reads.
        out: Labelled video path (default ``tracks/<adapter>__<stem>/labelled.mp4``).
        csv: Extra copy of the predictions (``.csv`` or ``.h5``) at this path.
        dataset: Dataset whose model to use, when the adapter ran on several.
        chunk_size: Frames decoded and predicted at a time.
        min_score: Points scoring below this are drawn hollow.
        threads: Torch threads (None leaves torch's default).
        progress: Show a progress bar with frames/s.

    Returns:
        The ``track.json`` record (also written to the track folder).
    """
    from benchmark.registry import load_class
    from benchmark.runner.worker import set_threads
    from benchmark.synthetic.render import video_writer

    video = Path(video)
    info = video_info(video)
    model = find_model(run_dir, adapter, dataset)
    folder = track_dir(run_dir, adapter, video)
    folder.mkdir(parents=True, exist_ok=True)
    out_path = Path(out) if out is not None else folder / LABELLED
    if threads is not None:
        set_threads(threads)

    keypoints = model.skeleton.keypoints
    colors = keypoint_colors(len(keypoints))
    scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=folder))
    try:
        t0 = time.perf_counter()
        predictor = load_class(model.adapter_name)().load(model.model_dir, scratch)
        load_s = time.perf_counter() - t0
        predict = frame_predictor(predictor, model.skeleton, scratch)

        parts: list[np.ndarray] = []
        still_at = max(info.n_frames // 2, 0)
        still = None
        predict_s = decode_s = 0.0
        n = 0
        t_start = time.perf_counter()
        with (
            video_writer(out_path, fps=info.fps) as writer,
            _progress(info.n_frames, f"{adapter} on {video.name}", progress) as bar,
        ):
            chunks = read_chunks(video, chunk_size)
            while True:
                t = time.perf_counter()
                chunk = next(chunks, None)
                decode_s += time.perf_counter() - t
                if chunk is None:
                    break
                t = time.perf_counter()
                pred = predict(chunk)
                predict_s += time.perf_counter() - t
                parts.append(pred)
                for i, (frame, pose) in enumerate(zip(chunk, pred, strict=True)):
                    labelled = draw_pose(
                        frame,
                        pose,
                        model.skeleton.edges,
                        colors,
                        min_score=min_score,
                        text=f"{adapter}  frame {n + i}",
                    )
                    writer.append_data(labelled)
                    if n + i <= still_at:  # the middle frame, or the last one if shorter
                        still = labelled
                n += len(chunk)
                bar.update(len(chunk))
        if n == 0:
            raise InputError(video, "the video has no frames")
        values = np.concatenate(parts)
        write_dlc_predictions(folder / PREDICTIONS, [str(i) for i in range(n)], keypoints, values)
        if csv is not None:
            write_dlc_predictions(csv, [str(i) for i in range(n)], keypoints, values)
        total_s = time.perf_counter() - t_start
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    assert still is not None
    with atomic_path(folder / STILL) as tmp:
        Image.fromarray(still).save(tmp, format="PNG")

    still_px, jump_px = default_thresholds(info.width, info.height)
    record: dict[str, Any] = {
        "adapter": adapter,
        "adapter_name": model.adapter_name,
        "job_id": model.job_id,
        "dataset": model.dataset,
        "video": str(video.resolve()),
        "video_stem": video.stem,
        "n_frames": int(n),
        "width": info.width,
        "height": info.height,
        "video_fps": info.fps,
        "keypoints": list(keypoints),
        "edges": [list(e) for e in model.skeleton.edges],
        "min_score": float(min_score),
        "timing": {
            "load_s": load_s,
            "total_s": total_s,
            "end_to_end_fps": n / total_s if total_s > 0 else None,
            "predict_s": predict_s,
            "predict_fps": n / predict_s if predict_s > 0 else None,
            "decode_s": decode_s,
            "draw_encode_write_s": total_s - predict_s - decode_s,
            "peak_rss_mb": _peak_rss_mb(),
            "threads": threads,
            "chunk_size": chunk_size,
            "frame_stream": hasattr(predictor, "predict_images"),
        },
        "temporal": temporal_metrics(values, keypoints, still_px=still_px, jump_px=jump_px),
        "groundtruth": None,
        "files": {
            "predictions": PREDICTIONS,
            "still": STILL,
            "video": str(out_path) if out is not None else LABELLED,
        },
    }
    gt_path = ground_truth_path(video)
    gt = _video_ground_truth(gt_path, keypoints, n) if gt_path is not None else None
    if gt is not None:
        from benchmark.metrics import keypoint_errors

        _write_frame_errors(folder / FRAME_ERRORS, keypoint_errors(gt, values), keypoints)
        record["groundtruth"] = {"path": str(gt_path), **_accuracy(gt, values, keypoints)}
        record["files"]["frame_errors"] = FRAME_ERRORS
    atomic_write_text(folder / TRACK_JSON, json.dumps(record, indent=2))
    return record


def load_track(folder: Path) -> tuple[dict, np.ndarray]:
    """A track folder's record and its predictions ``(n, k, 3)`` in the record's keypoint order."""
    record = _read_json(folder / TRACK_JSON)
    pred = read_predictions(folder / PREDICTIONS)
    index = {name: j for j, name in enumerate(pred.keypoints)}
    cols = [index[name] for name in record["keypoints"]]
    return record, pred.values[:, cols]


def compare_videos(
    run_dir: str | Path,
    adapters: Sequence[str],
    video: str | Path,
    *,
    out: str | Path | None = None,
    dataset: str | None = None,
    chunk_size: int = 32,
    min_score: float = 0.5,
    threads: int | None = 1,
    progress: bool = True,
) -> Path:
    """A video of several adapters' tracks side by side (2x2 for four), on the same frames.

    Adapters not yet tracked on this video are tracked first (:func:`track_video`); the
    comparison is drawn from the stored predictions. Writes ``labelled.mp4`` (or ``out``) and
    ``still.png`` into ``tracks/compare__<A>+<B>__<stem>/``.

    Returns:
        The path of the comparison video.
    """
    from benchmark.synthetic.render import video_writer

    if len(adapters) < 2:
        raise InputError(Path(run_dir), "--compare needs at least two adapters (A,B)")
    video = Path(video)
    info = video_info(video)
    tracks = []
    for adapter in adapters:
        folder = track_dir(run_dir, adapter, video)
        if not (folder / TRACK_JSON).is_file():
            track_video(
                run_dir,
                adapter,
                video,
                dataset=dataset,
                chunk_size=chunk_size,
                min_score=min_score,
                threads=threads,
                progress=progress,
            )
        tracks.append(load_track(folder))
    folder = track_dir(run_dir, "compare__" + "+".join(adapters), video)
    out_path = Path(out) if out is not None else folder / LABELLED
    colors = [keypoint_colors(len(record["keypoints"])) for record, _ in tracks]
    still_at = info.n_frames // 2
    still = None
    n = 0
    with (
        video_writer(out_path, fps=info.fps) as writer,
        _progress(info.n_frames, f"compare on {video.name}", progress) as bar,
    ):
        for chunk in read_chunks(video, chunk_size):
            for frame in chunk:
                panels = []
                for adapter, (record, values), palette in zip(
                    adapters, tracks, colors, strict=True
                ):
                    pose = values[n] if n < len(values) else np.full_like(values[0], np.nan)
                    panels.append(
                        draw_pose(
                            frame,
                            pose,
                            [tuple(e) for e in record["edges"]],
                            palette,
                            min_score=min_score,
                            text=f"{adapter}  frame {n}",
                        )
                    )
                labelled = tile(panels)
                writer.append_data(labelled)
                if n <= still_at:
                    still = labelled
                n += 1
            bar.update(len(chunk))
    if still is not None:
        with atomic_path(folder / STILL) as tmp:
            Image.fromarray(still).save(tmp, format="PNG")
    atomic_write_text(
        folder / "compare.json",
        json.dumps({"adapters": list(adapters), "video": str(video.resolve()), "n_frames": n}),
    )
    return out_path
