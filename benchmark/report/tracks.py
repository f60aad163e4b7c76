"""The report's "Video tracking" section, from ``RUN_DIR/tracks/*/track.json`` (kpbench track)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from PIL import Image

from benchmark.errors import InputError
from benchmark.metrics import DEFAULT_THRESHOLDS, accuracy_metrics
from benchmark.paths import atomic_path
from benchmark.records import TrackRecord, read_record
from benchmark.report.figures import _style, save_png
from benchmark.report.summary import (
    fmt_duration,
    fmt_mb,
    fmt_metric,
    fmt_pct,
    fmt_px,
    fmt_rate,
)
from benchmark.video.draw import keypoint_colors, with_legend
from benchmark.video.track import FRAME_ERRORS, STILL, TRACK_JSON, TRACKS

#: Who decoded the frames the model saw (track.json ``timing.inference``).
READERS = {"framework": "framework's own", "frames": "kpbench", "files": "kpbench (PNG)"}


def _records(run_dir: Path) -> list[tuple[Path, TrackRecord]]:
    out = []
    for path in sorted((run_dir / TRACKS).glob(f"*/{TRACK_JSON}")):
        try:
            out.append((path.parent, read_record(path, TrackRecord)))
        except InputError:
            continue  # a broken track (or a comparison's folder): not shown
    return sorted(out, key=lambda item: (item[1].video_stem, item[1].adapter))


def _error_figure(
    stem: str, folders: list[tuple[str, Path]], colors: dict, out: Path
) -> Path | None:
    """Mean error over keypoints per video frame, one line per adapter."""
    frames = []
    for adapter, folder in folders:
        table = pd.read_csv(folder / FRAME_ERRORS)
        per_frame = table.groupby("frame", as_index=False)["error_px"].mean()
        frames.append(per_frame.assign(adapter=adapter))
    if not frames:
        return None
    data = pd.concat(frames, ignore_index=True)
    palette = {a: colors.get(a, (0.3, 0.3, 0.3)) for a in data["adapter"].unique()}
    with _style():
        fig = Figure(figsize=(8, 3))
        ax = fig.subplots()
        sns.lineplot(
            data=data, x="frame", y="error_px", hue="adapter", palette=palette, lw=1, ax=ax
        )
        ax.set(xlabel=f"frame of {stem}", ylabel="mean error (px)", yscale="symlog")
        ax.set_ylim(bottom=0)
    return save_png(fig, out)


def _still_with_legend(still: Path, record: TrackRecord, out: Path) -> Path:
    """The labelled still of a track with a keypoint legend beside it, as ``out`` (PNG).

    The colours are the ones ``kpbench track`` drew with (one per keypoint, in order).
    """
    with Image.open(still) as im:
        frame = np.asarray(im.convert("RGB"))
    if record.keypoints:
        frame = with_legend(
            frame,
            record.keypoints,
            keypoint_colors(len(record.keypoints)),
            min_score=record.min_score,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Image.fromarray(frame).save(tmp, format="PNG")
    return out


def tracking_context(
    run_dir: Path,
    fig_dir: Path,
    link_prefix: str,
    colors: dict,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> dict | None:
    """Tables, figures and stills of every tracked video (PCK at the run's ``thresholds``);
    None when the run tracked none."""
    records = _records(Path(run_dir))
    if not records:
        return None
    # The error of tracks: on the frames the model never trained on (median, tail, PCK).
    names = ("mean_px", "median_px", "p95_px", "detection_rate")
    gt_metrics = [m for m in accuracy_metrics(thresholds) if m.name in names or "@" in m.name]
    speed, temporal, accuracy, stills, figs = [], [], [], [], []
    by_video: dict[str, list[tuple[str, Path]]] = {}
    for folder, r in records:
        t, m, video = r.timing, r.temporal, r.video_stem
        size = f"{r.width}×{r.height}"
        speed.append(
            [
                r.adapter,
                video,
                size,
                str(r.n_frames),
                READERS.get(t.inference, "—"),
                fmt_rate(t.end_to_end_fps),
                fmt_rate(t.predict_fps),
                fmt_duration(t.load_s),
                fmt_mb(t.peak_rss_mb),
                str(t.threads or "—"),
            ]
        )
        temporal.append(
            [
                r.adapter,
                video,
                fmt_px(m.get("jitter_px")),
                fmt_px(m.get("jitter_still_px")),
                fmt_pct(m.get("jump_share")),
                fmt_pct(m.get("missing_share")),
                fmt_pct(m.get("still_share")),
            ]
        )
        gt = r.groundtruth
        if gt:
            unseen = gt.get("unseen") or {}
            accuracy.append(
                [
                    r.adapter,
                    video,
                    str(unseen.get("n_frames", "—")),
                    fmt_px(gt.get("mean_px")),
                    *(fmt_metric(m, m.value(unseen)) for m in gt_metrics),
                ]
            )
            if (folder / FRAME_ERRORS).is_file():
                by_video.setdefault(video, []).append((r.adapter, folder))
        if (folder / STILL).is_file():
            name = f"track_{folder.name}.png"
            _still_with_legend(folder / STILL, r, fig_dir / name)
            stills.append(
                {"title": f"{r.adapter} on {video}", "link": f"{link_prefix}/{quote(name)}"}
            )
    for video, folders in by_video.items():
        png = _error_figure(video, folders, colors, fig_dir / f"track_error_{video}.png")
        if png is not None:
            figs.append({"title": f"Error per frame, {video}", "link": f"{link_prefix}/{png.name}"})
    still_jump = sorted({(r.temporal["still_px"], r.temporal["jump_px"]) for _, r in records})
    return {
        "speed": speed,
        "temporal": temporal,
        "accuracy": accuracy,
        "accuracy_header": ["adapter", "video", "frames", "mean px (all)"]
        + [m.label for m in gt_metrics],
        "figures": figs,
        "stills": stills,
        "thresholds": ", ".join(f"{s:.1f} px / {j:.0f} px" for s, j in still_jump),
    }
