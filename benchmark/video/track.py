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

import contextlib
import shutil
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from adapters.base import ImagePredictor, VideoPredictor
from benchmark.errors import InputError, KpbenchError
from benchmark.io.predictions import SUFFIXES, read_predictions, write_dlc_predictions
from benchmark.paths import atomic_path
from benchmark.records import (
    TrackRecord,
    TrackTiming,
    read_record,
    write_record,
)
from benchmark.resources import peak_rss_mb
from benchmark.video.draw import draw_pose, keypoint_colors
from benchmark.video.groundtruth import (
    FRAME_ERRORS,
    accuracy,
    ground_truth_path,
    video_ground_truth,
    write_frame_errors,
)
from benchmark.video.io import read_chunks, video_info
from benchmark.video.model import TrainedModel, find_model, training_frames
from benchmark.video.predict import Rows, frame_predictor, score_cutoff
from benchmark.video.temporal import default_thresholds, temporal_metrics

TRACKS = "tracks"
TRACK_JSON = "track.json"
PREDICTIONS = "predictions.csv"
LABELLED = "labelled.mp4"
STILL = "still.png"


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


def check_counts(chunk_size: int, threads: int | None) -> None:
    """``--chunk-size`` and ``--threads``, checked before anything is loaded or written.

    Raises:
        KpbenchError: Either is not an integer of at least 1 (``threads`` may be None).
    """
    for option, value in (("--chunk-size", chunk_size), ("--threads", threads)):
        if value is not None and (type(value) is not int or value < 1):
            raise KpbenchError(f"{option}: must be an integer >= 1, not {value!r}")


def track_dir(run_dir: str | Path, adapter: str, video: str | Path) -> Path:
    """``RUN_DIR/tracks/<adapter>__<video stem>``."""
    return Path(run_dir) / TRACKS / f"{adapter}__{Path(video).stem}"


def progress_bar(total: int, desc: str, enabled: bool):
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
) -> TrackRecord:
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
        KpbenchError: ``chunk_size`` or ``threads`` is below 1 (checked first).
    """
    from benchmark.envs import interpreter_for, is_this_interpreter
    from benchmark.registry import load_class

    out, csv = check_out(out), check_csv(csv)
    check_counts(chunk_size, threads)
    video = Path(video)
    info = video_info(video)
    model = find_model(run_dir, adapter, dataset)
    adapter_cls = load_class(model.adapter_name)
    python = interpreter_for(adapter_cls, model.python)
    if not is_this_interpreter(python):
        options = {"out": out, "csv": csv, "chunk_size": chunk_size, "min_score": min_score}
        return _track_in(python, run_dir, model, video, threads, progress, options)
    folder = track_dir(run_dir, adapter, video)
    new_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _track_here(
            folder, run_dir, adapter, video, info, model, adapter_cls,
            out=out, csv=csv, chunk_size=chunk_size, min_score=min_score, threads=threads,
            progress=progress,
        )  # fmt: skip
    except BaseException:
        if new_folder:  # no empty or half-written track folder stays (a full disk, say)
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # tracks/, if this was its only track
        raise


def _track_here(
    folder: Path,
    run_dir: str | Path,
    adapter: str,
    video: Path,
    info: Any,
    model: TrainedModel,
    adapter_cls: Any,
    *,
    out: str | Path | None,
    csv: str | Path | None,
    chunk_size: int,
    min_score: float | None,
    threads: int | None,
    progress: bool,
) -> TrackRecord:
    """:func:`track_video` in this interpreter, into the track folder ``folder``."""
    from benchmark.resources import set_threads
    from benchmark.video.io import video_writer

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
        native = isinstance(predictor, VideoPredictor)
        if native:
            rows = Rows(iter(predictor.predict_video(video, keypoints)), len(keypoints))
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
            progress_bar(info.n_frames, f"{adapter} on {video.name}", progress) as bar,
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
        # The container's count is duration x fps, which rounding can put one frame off.
        if n < info.n_frames - 1:
            warnings.warn(
                f"{video}: decoded {n} frames, but its container declares {info.n_frames}; "
                f"the file may be truncated (the {n} decoded frames are tracked)",
                stacklevel=2,
            )
        frame_counts = None
        if native:
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
    inference = (
        "framework" if native else "frames" if isinstance(predictor, ImagePredictor) else "files"
    )
    record = TrackRecord(
        adapter=adapter,
        adapter_name=model.adapter_name,
        job_id=model.job_id,
        dataset=model.dataset,
        video=str(video.resolve()),
        video_stem=video.stem,
        n_frames=int(n),
        width=info.width,
        height=info.height,
        video_fps=info.fps,
        keypoints=list(keypoints),
        edges=[list(e) for e in model.skeleton.edges],
        min_score=float(min_score),
        timing=TrackTiming(
            load_s=load_s,
            total_s=total_s,
            end_to_end_fps=n / total_s if total_s > 0 else None,
            predict_s=predict_s,
            predict_fps=n / predict_s if predict_s > 0 else None,
            decode_s=decode_s,
            draw_encode_write_s=total_s - predict_s - decode_s,
            peak_rss_mb=peak_rss_mb(children=False),  # not ffmpeg
            threads=threads,
            chunk_size=chunk_size,
            inference=inference,
            frame_counts=frame_counts,
        ),
        temporal=temporal_metrics(values, keypoints, still_px=still_px, jump_px=jump_px),
        groundtruth=None,
        files={
            "predictions": PREDICTIONS,
            "still": STILL,
            "video": str(out_path) if out is not None else LABELLED,
        },
    )
    gt_path = ground_truth_path(video)
    gt = video_ground_truth(gt_path, keypoints, n) if gt_path is not None else None
    if gt is not None:
        from benchmark.metrics import keypoint_errors

        write_frame_errors(folder / FRAME_ERRORS, keypoint_errors(gt, values), keypoints)
        trained = [f for f in training_frames(run_dir, model.job_id, video.stem) if f < n]
        unseen = np.setdiff1d(np.arange(n), trained)
        record = replace(
            record,
            groundtruth={
                "path": str(gt_path),
                **accuracy(gt, values, keypoints, model.thresholds),
                "training_frames": len(trained),
                "unseen": (
                    accuracy(gt[unseen], values[unseen], keypoints, model.thresholds)
                    if len(unseen)
                    else None
                ),
            },
            files={**record.files, "frame_errors": FRAME_ERRORS},
        )
    write_record(folder / TRACK_JSON, record)
    return record


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
    import subprocess

    from benchmark.envs import child_env
    from benchmark.errors import KpbenchError

    # Absolute paths: the command runs in the run directory, not the caller's folder.
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
    # Frameworks without torch (TensorFlow) read the OpenMP variable child_env sets.
    env = child_env(threads)
    # Its stdout repeats the summary the caller prints; errors and progress go to stderr.
    rc = subprocess.run(
        cmd, cwd=run_dir, env=env, stdout=subprocess.DEVNULL, check=False
    ).returncode
    if rc != 0:
        raise KpbenchError(f"tracking {video} with {model.adapter} in {python} failed (exit {rc})")
    return read_record(track_dir(run_dir, model.adapter, video) / TRACK_JSON, TrackRecord)


def load_track(folder: Path) -> tuple[TrackRecord, np.ndarray]:
    """A track folder's record and its predictions ``(n, k, 3)`` in the record's keypoint order."""
    record = read_record(folder / TRACK_JSON, TrackRecord)
    pred = read_predictions(folder / PREDICTIONS)
    index = {name: j for j, name in enumerate(pred.keypoints)}
    cols = [index[name] for name in record.keypoints]
    return record, pred.values[:, cols]
