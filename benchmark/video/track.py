"""``kpbench track``: run a trained model of a run on every frame of a video.

Frames are decoded, predicted, drawn and encoded a chunk at a time, so memory does not grow
with the video's length; only the ``(n_frames, k, 3)`` predictions are kept. Results go to
``RUN_DIR/tracks/<adapter>__<video stem>/``:

- ``predictions.csv``: the predictions as DeepLabCut's ``analyze_videos`` writes them
  (header ``scorer/bodyparts/coords`` with x, y, likelihood; rows = frame numbers);
- ``labelled.mp4``: H.264 (yuv420p) video with the poses drawn (unless ``--out`` moves it);
- ``still.png``: one labelled frame from the middle of the video, for the report;
- ``frame_errors.csv``: error per frame and keypoint when the video has ground truth
  (``<video stem>_groundtruth.csv`` beside it, as the synthetic generators write);
- ``track.json``: timings (end-to-end FPS: decode + predict + draw + encode + write),
  temporal metrics, accuracy against the ground truth (over all frames, and over the frames
  the model never trained on: ``groundtruth.unseen``), and the files above.

A predictor with a ``predict_video`` method (DeepLabCut's ``VideoIterator`` into its inference
runner, sleap-nn's ``predict_streaming``) reads the video itself, as the framework's own video
analysis does; its predictions are drawn on the frames kpbench decodes alongside. Otherwise
kpbench decodes the chunks and passes them to ``predict_images`` (or, failing that, as PNG
files).
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.io.predictions import SUFFIXES, read_predictions, write_dlc_predictions
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
#: Score below which points are drawn hollow when the predictor names no cutoff of its own.
DEFAULT_MIN_SCORE = 0.5

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
    direct = getattr(predictor, "predict_images", None)
    if direct is not None:
        if "keypoints" in inspect.signature(direct).parameters:  # DeepLabCut's predictor
            return lambda images: _checked(
                direct(images, keypoints=skeleton.keypoints), len(images), k
            )
        return lambda images: _checked(direct(images), len(images), k)

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
        return _checked(predictor(frames), len(images), k)

    return via_files


def _checked(pred: np.ndarray, n: int | None, k: int) -> np.ndarray:
    """``pred`` as float64 ``(n, k, 3)`` with x, y NaN unless both are finite."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[1:] != (k, 3) or (n is not None and len(pred) != n):
        expected = f"({n if n is not None else 'n'}, {k}, 3)"
        raise ValueError(f"the predictor returned shape {pred.shape}, expected {expected}")
    pred[~np.isfinite(pred[..., :2]).all(axis=-1), :2] = np.nan
    return pred


class _Rows:
    """Takes predictions row by row from a stream of ``(m, k, 3)`` blocks (any sizes)."""

    def __init__(self, blocks: Iterator[np.ndarray], k: int) -> None:
        self._blocks = blocks
        self._k = k
        self._buffer = np.empty((0, k, 3))
        self.padded = 0  # rows the stream did not have (NaN)

    def take(self, m: int) -> np.ndarray:
        """The next ``m`` rows; NaN rows once the stream has ended."""
        while len(self._buffer) < m:
            block = next(self._blocks, None)
            if block is None:
                pad = np.full((m - len(self._buffer), self._k, 3), np.nan)
                self.padded += len(pad)
                self._buffer = np.concatenate([self._buffer, pad])
                break
            self._buffer = np.concatenate([self._buffer, _checked(block, None, self._k)])
        rows, self._buffer = self._buffer[:m], self._buffer[m:]
        return rows

    def left_over(self) -> int:
        """Rows the stream has beyond those taken (reads it to the end)."""
        return len(self._buffer) + sum(len(b) for b in self._blocks)


def score_cutoff(predictor: Any) -> float:
    """The predictor's own low-confidence cutoff (e.g. DeepLabCut's ``pcutoff``), else 0.5."""
    value = getattr(predictor, "score_cutoff", None)
    return float(value) if value is not None else DEFAULT_MIN_SCORE


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


def training_frames(run_dir: str | Path, job_id: str, video_stem: str) -> list[int]:
    """Frames of the video that the job trained on (its split's train and val frames).

    Frames are matched by DeepLabCut's naming of extracted frames,
    ``labeled-data/<video stem>/img<frame number>.<ext>``, which the synthetic projects use.
    """
    from benchmark.splits import load_splits

    run_dir = Path(run_dir)
    job = _read_json(run_dir / "jobs" / job_id / "job.json")
    path = run_dir / "splits" / f"{job['dataset']}.json"
    if not path.is_file():
        return []
    pattern = re.compile(rf"(?:^|/)labeled-data/{re.escape(video_stem)}/img(\d+)\.\w+$")
    frames = set()
    for split in load_splits(path):
        if split.fold == int(job.get("fold", 0)):
            for frame_id in (*split.train, *split.val):
                match = pattern.search(frame_id)
                if match:
                    frames.add(int(match.group(1)))
    return sorted(frames)


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


def check_out(out: str | Path | None) -> Path | None:
    """The ``--out`` video path, checked before anything is loaded or written.

    Raises:
        InputError: It does not end in ``.mp4`` or is a folder.
    """
    if out is None:
        return None
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise InputError(out, "--out takes an .mp4 file (the labelled video is H.264 MP4)")
    if out.is_dir():
        raise InputError(out, "--out is a folder; give an .mp4 file name")
    return out


def check_csv(csv: str | Path | None) -> Path | None:
    """The ``--csv`` predictions path, checked before anything is loaded or written.

    Raises:
        InputError: It does not end in ``.csv`` or ``.h5`` (``.hdf5``), or is a folder.
    """
    if csv is None:
        return None
    csv = Path(csv)
    if csv.suffix.lower() not in SUFFIXES:
        raise InputError(csv, "--csv takes a .csv or .h5 file (DeepLabCut's two formats)")
    if csv.is_dir():
        raise InputError(csv, "--csv is a folder; give a .csv or .h5 file name")
    return csv


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
    min_score: float | None = None,
    threads: int | None = 1,
    progress: bool = True,
) -> dict:
    """Track every frame of ``video`` with the trained ``adapter`` of a run.

    Args:
        run_dir: A run directory with a finished job of ``adapter``.
        adapter: Adapter label in the run.
        video: Any video ffmpeg reads.
        out: Labelled video path, ``.mp4`` (default ``tracks/<adapter>__<stem>/labelled.mp4``).
        csv: Extra copy of the predictions (``.csv`` or ``.h5``) at this path.
        dataset: Dataset whose model to use, when the adapter ran on several.
        chunk_size: Frames decoded and predicted at a time.
        min_score: Points scoring below this are drawn hollow (default: the predictor's
            ``score_cutoff``, e.g. DeepLabCut's ``pcutoff``, else 0.5).
        threads: Torch threads (None leaves torch's default).
        progress: Show a progress bar with frames/s.

    Returns:
        The ``track.json`` record (also written to the track folder).

    Raises:
        InputError: ``out`` or ``csv`` has a wrong suffix (checked first), the run has no such
            model, or the video cannot be read.
    """
    from benchmark.registry import load_class
    from benchmark.runner.worker import set_threads
    from benchmark.synthetic.render import video_writer

    out, csv = check_out(out), check_csv(csv)
    video = Path(video)
    info = video_info(video)
    model = find_model(run_dir, adapter, dataset)
    adapter_cls = load_class(model.adapter_name)
    python = _own_environment(adapter_cls)
    if python is not None:
        options = {"out": out, "csv": csv, "chunk_size": chunk_size, "min_score": min_score}
        return _track_in(python, run_dir, model, video, threads, progress, options)
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
        predictor = adapter_cls().load(model.model_dir, scratch)
        load_s = time.perf_counter() - t0
        if min_score is None:
            min_score = score_cutoff(predictor)
        native = getattr(predictor, "predict_video", None)
        if native is not None:
            rows = _Rows(iter(native(video, keypoints)), len(keypoints))
            predict = lambda frames: rows.take(len(frames))  # noqa: E731
        else:
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
        frame_counts = None
        if native is not None:
            frame_counts = {"decoded": n, "predicted": n - rows.padded + rows.left_over()}
            if frame_counts["predicted"] != n:
                warnings.warn(
                    f"{video}: {adapter}'s video reader gave {frame_counts['predicted']} frames, "
                    f"kpbench decoded {n}; frames beyond the shorter are NaN",
                    stacklevel=2,
                )
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
            # "framework": the framework's own video reader and inference (predict_video);
            # "frames": frames decoded by kpbench, predicted in memory; "files": as PNGs.
            "inference": "framework"
            if native is not None
            else "frames"
            if hasattr(predictor, "predict_images")
            else "files",
            "frame_counts": frame_counts,
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
        trained = [f for f in training_frames(run_dir, model.job_id, video.stem) if f < n]
        unseen = np.setdiff1d(np.arange(n), trained)
        record["groundtruth"]["training_frames"] = len(trained)
        record["groundtruth"]["unseen"] = (
            _accuracy(gt[unseen], values[unseen], keypoints) if len(unseen) else None
        )
        record["files"]["frame_errors"] = FRAME_ERRORS
    atomic_write_text(folder / TRACK_JSON, json.dumps(record, indent=2))
    return record


def _own_environment(adapter_cls: Any) -> Path | None:
    """The interpreter of the adapter's own environment (built when missing), or None when
    it runs in this one."""
    import sys

    from benchmark import envs

    spec = envs.spec_for(adapter_cls)
    if spec is None or Path(sys.prefix).resolve() == spec.path.resolve():
        return None
    return envs.ensure(spec)


def _track_in(
    python: Path,
    run_dir: str | Path,
    model: TrainedModel,
    video: Path,
    threads: int | None,
    progress: bool,
    options: dict[str, Any],
) -> dict:
    """``kpbench track`` run by another interpreter (an adapter's own environment)."""
    import os
    import subprocess

    from benchmark.errors import KpbenchError
    from benchmark.paths import repo_root

    # Absolute paths: the command runs in the repository root, not the caller's folder.
    run_dir = Path(run_dir).resolve()
    cmd = [str(python), "-m", "benchmark.cli", "track", str(run_dir), "--adapter", model.adapter]
    cmd += ["--video", str(video.resolve()), "--dataset", model.dataset]
    for key, value in {**options, "threads": threads}.items():
        if isinstance(value, (str, Path)):
            value = Path(value).resolve()
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    if not progress:
        cmd.append("--quiet")
    path = os.pathsep.join([str(repo_root()), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PYTHONPATH": path}
    if threads is not None:  # frameworks without torch (TensorFlow) read the OpenMP variable
        env["OMP_NUM_THREADS"] = str(threads)
    # Its stdout repeats the summary the caller prints; errors and progress go to stderr.
    rc = subprocess.run(
        cmd, cwd=repo_root(), env=env, stdout=subprocess.DEVNULL, check=False
    ).returncode
    if rc != 0:
        raise KpbenchError(f"tracking {video} with {model.adapter} in {python} failed (exit {rc})")
    return _read_json(track_dir(run_dir, model.adapter, video) / TRACK_JSON)


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
    min_score: float | None = None,
    threads: int | None = 1,
    progress: bool = True,
) -> Path:
    """A video of several adapters' tracks side by side (2x2 for four), on the same frames.

    Adapters not yet tracked on this video are tracked first (:func:`track_video`); the
    comparison is drawn from the stored predictions, each with its track's hollow-point cutoff
    unless ``min_score`` is given. Writes ``labelled.mp4`` (or ``out``) and
    ``still.png`` into ``tracks/compare__<A>+<B>__<stem>/``.

    Returns:
        The path of the comparison video.
    """
    from benchmark.synthetic.render import video_writer

    if len(adapters) < 2:
        raise InputError(Path(run_dir), "--compare needs at least two adapters (A,B)")
    out = check_out(out)
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
                            min_score=record["min_score"] if min_score is None else min_score,
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
