"""``kpbench track --compare``: several adapters' tracks of one video side by side."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.errors import InputError
from benchmark.paths import atomic_path, atomic_write_text
from benchmark.video.draw import draw_pose, keypoint_colors, tile
from benchmark.video.io import read_chunks, video_info
from benchmark.video.model import find_model
from benchmark.video.track import (
    LABELLED,
    STILL,
    TRACK_JSON,
    check_counts,
    check_out,
    load_track,
    progress_bar,
    track_dir,
    track_video,
)


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

    Raises:
        InputError: Fewer than two adapters, a bad ``out``, or an adapter without a finished
            job in the run (all checked before anything is tracked).
        KpbenchError: ``chunk_size`` or ``threads`` is below 1 (checked first).
    """
    from benchmark.video.io import video_writer

    if len(adapters) < 2:
        raise InputError(Path(run_dir), "--compare needs at least two adapters (A,B)")
    out = check_out(out)
    check_counts(chunk_size, threads)
    video = Path(video)
    info = video_info(video)
    untracked = [a for a in adapters if not (track_dir(run_dir, a, video) / TRACK_JSON).is_file()]
    for adapter in untracked:  # every name is checked before any is tracked
        find_model(run_dir, adapter, dataset)
    tracks = []
    for adapter in adapters:
        folder = track_dir(run_dir, adapter, video)
        if adapter in untracked:
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
    colors = [keypoint_colors(len(record.keypoints)) for record, _ in tracks]
    still_at = info.n_frames // 2
    still = None
    n = 0
    with (
        video_writer(out_path, fps=info.fps) as writer,
        progress_bar(info.n_frames, f"compare on {video.name}", progress) as bar,
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
                            [tuple(e) for e in record.edges],
                            palette,
                            min_score=record.min_score if min_score is None else min_score,
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
