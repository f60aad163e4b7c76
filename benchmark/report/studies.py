"""Report sections of the studies: label efficiency, cross-dataset tests and sweeps.

Each reads the run's full tables (``RunResults.studies``) and job records; nothing is
recomputed from models. Every error is :data:`~benchmark.metrics.RANKING_METRIC`, the
report's ranking metric (every labelled keypoint, a miss counted at the penalty).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.metrics import RANKING_METRIC, metric
from benchmark.report import figures
from benchmark.report.load import RunResults, ground_truth
from benchmark.report.overlays import overlay_grid

#: "Reaches its full-data error": within this fraction of it.
WITHIN = 0.10


def _px(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.1f}"


def _overall(results: RunResults) -> pd.DataFrame:
    """Overall ranking-metric rows of every job on its own test frames (sizes included)."""
    assert results.studies is not None
    m = results.studies.metrics
    return m[
        (m["keypoint"] == "all")
        & m["inner_fold"].isna()
        & (m["test_dataset"] == m["dataset"].astype(str))
    ]


def _budget_stopped(results: RunResults, dataset: str) -> set[tuple[str, int]]:
    """``(adapter, training size)`` of the jobs on ``dataset`` (inner folds aside) that the
    budget stopped before their schedule ended; size -1 is a fold's whole training set."""
    return {
        (j.adapter, -1 if j.train_size is None else j.train_size)
        for j in results.study_jobs
        if j.dataset == dataset
        and j.inner_fold is None
        and j.training is not None
        and j.training.stopped_by_budget
    }


# ----------------------------------------------------------------------------- sizes
def label_efficiency(
    results: RunResults, colors: dict, fig_dir: Path, link: str
) -> list[dict[str, Any]]:
    """Per dataset with training subsets: error against labelled training frames (figure:
    one line per adapter, band = range over folds and seeds) and a table with each
    adapter's smallest size within :data:`WITHIN` of its full-data error."""
    if results.studies is None:
        return []
    overall = _overall(results)
    sections = []
    for name in results.dataset_names():
        rows = overall[overall["dataset"] == name]
        with_sizes = set(rows.loc[rows["train_size"].notna(), "adapter"])
        if not with_sizes:
            continue
        rows = rows[rows["adapter"].isin(with_sizes)]  # a select_by sweep has no sizes
        err = rows[rows["metric"] == RANKING_METRIC]
        frames = rows[rows["metric"] == "train_frames"]
        key = ["adapter", "fold", "seed", "train_size"]
        table = err.merge(frames, on=key, how="left", suffixes=("", "_frames"))
        table["size"] = table["train_size"].fillna(-1)  # -1: the fold's whole training set
        stats = (
            table.groupby(["adapter", "size"])
            .agg(
                frames=("value_frames", "mean"),
                mean=("value", "mean"),
                lo=("value", "min"),
                hi=("value", "max"),
                jobs=("value", "size"),
            )
            .reset_index()
        )
        stopped = _budget_stopped(results, name)
        adapters = sorted(stats["adapter"].unique())
        sizes = sorted(stats["size"].unique(), key=lambda s: (s < 0, s))
        lines = []
        for adapter in adapters:
            part = stats[stats["adapter"] == adapter].sort_values("frames")
            full = part[part["size"] < 0]["mean"]
            full_err = float(full.iloc[0]) if len(full) else np.nan
            ok = part[part["mean"] <= (1 + WITHIN) * full_err]
            smallest = f"{ok['frames'].iloc[0]:.0f}" if len(ok) and np.isfinite(full_err) else "–"
            cells = []
            for size in sizes:
                cell = part[part["size"] == size]
                text = _px(float(cell["mean"].iloc[0])) if len(cell) else "–"
                cells.append(text + ("†" if (adapter, size) in stopped else ""))
            lines.append([adapter, *cells, smallest])
        headers = ["adapter"]
        for s in sizes:
            n = stats[stats["size"] == s]["frames"].mean()
            headers.append(f"all ({n:.0f})" if s < 0 else f"{int(s)}")
        headers.append(f"smallest within {WITHIN:.0%} of all")
        png = fig_dir / f"{name}_label_efficiency.png"
        figures.label_efficiency_figure(stats, colors, metric(RANKING_METRIC).label, png)
        sections.append(
            {
                "dataset": name,
                "headers": headers,
                "rows": lines,
                "figure": f"{link}/{png.name}",
                "jobs": int(stats["jobs"].max()),
                "stopped": bool(stopped),
            }
        )
    return sections


# ----------------------------------------------------------------------------- transfer
def _mean_scored(errors: pd.DataFrame, keypoints: set[str]) -> dict[str, float]:
    part = errors[errors["keypoint"].isin(keypoints)]
    return part.groupby("adapter")["scored_px"].mean().to_dict()


def transfer(results: RunResults, colors: dict, fig_dir: Path, link: str) -> list[dict[str, Any]]:
    """Per cross-dataset test of the run config: each adapter's error within its training
    dataset, on the other dataset, and the other dataset's own models' error, all on the
    paired keypoints only; the mapping, the keypoints left out, and an overlay of the
    other dataset's frames."""
    if results.studies is None:
        return []
    errors = results.studies.frame_errors
    if "scored_px" not in errors.columns:
        return []
    # Models trained on a fold's whole training set (no subsets, no inner folds).
    errors = errors[errors["train_size"].isna() & errors["inner_fold"].isna()]
    sections = []
    for spec in results.run.config.get("transfer") or []:
        a, b, mapping = spec["train"], spec["test"], spec["keypoints"]
        own = errors[(errors["dataset"] == a) & (errors["test_dataset"] == a)]
        moved = errors[(errors["dataset"] == a) & (errors["test_dataset"] == b)]
        theirs = errors[(errors["dataset"] == b) & (errors["test_dataset"] == b)]
        within = _mean_scored(own, set(mapping))
        across = _mean_scored(moved, set(mapping.values()))
        native = _mean_scored(theirs, set(mapping.values()))
        stopped_a, stopped_b = (
            {adapter for adapter, size in _budget_stopped(results, name) if size < 0}
            for name in (a, b)
        )
        rows = []
        for adapter in sorted(across, key=lambda k: across[k]):
            ratio = across[adapter] / within[adapter] if within.get(adapter) else np.nan
            rows.append(
                [
                    adapter + ("†" if adapter in stopped_a else ""),
                    _px(within.get(adapter)),
                    _px(across[adapter]),
                    "–" if not np.isfinite(ratio) else f"{ratio:.1f}×",
                    _px(native.get(adapter)) + ("†" if adapter in stopped_b else ""),
                ]
            )
        left = _left_out(results, a, b)
        png = _transfer_overlay(results, a, b, colors, fig_dir / f"transfer_{a}__{b}.png")
        sections.append(
            {
                "train": a,
                "test": b,
                "mapping": ", ".join(f"{k} → {v}" for k, v in mapping.items()),
                "left_out": left,
                "rows": rows,
                "n_frames": int(moved["frame_id"].nunique()) if len(moved) else 0,
                "overlay": f"{link}/{png.name}" if png else None,
                "stopped": bool((stopped_a | stopped_b) & set(across)),
            }
        )
    return sections


def _left_out(results: RunResults, a: str, b: str) -> str:
    for job in results.jobs:
        scores = job.transfer.get(b) if job.dataset == a else None
        if scores and "left_out" in scores:
            out = scores["left_out"]
            parts = [f"{a}: {', '.join(out['train'])}" if out["train"] else ""]
            parts.append(f"{b}: {', '.join(out['test'])}" if out["test"] else "")
            return "; ".join(p for p in parts if p) or "none"
    return "none"


def _transfer_overlay(results: RunResults, a: str, b: str, colors: dict, out: Path) -> Path | None:
    """The other dataset's frames with each adapter's mapped predictions (fold 0, seed 0
    models of the training dataset)."""
    from benchmark.io.predictions import read_predictions

    gt = ground_truth(results, b)
    jobs = [j for j in results.jobs if j.dataset == a and j.fold == 0 and j.status == "done"]
    jobs = [j for j in sorted(jobs, key=lambda j: j.seed) if "keypoints" in j.transfer.get(b, {})]
    if gt is None or not jobs:
        return None
    chosen = {}
    for job in jobs:
        chosen.setdefault(job.adapter, job)
    mapping = next(iter(chosen.values())).transfer[b]["keypoints"]
    paths = {
        adapter: results.run_dir / "jobs" / job.job_id / "transfer" / f"{b}.csv"
        for adapter, job in sorted(chosen.items())
    }
    stored = {adapter: read_predictions(p) for adapter, p in paths.items() if p.is_file()}
    common = [
        f
        for f, image in zip(gt.frame_ids, gt.image_paths, strict=True)
        if image.is_file() and all(f in s.frame_ids for s in stored.values())
    ]
    if not common or not stored:
        return None
    picks = np.linspace(0, len(common) - 1, min(results.overlay_frames, len(common))).round()
    frames = gt.subset([common[int(i)] for i in sorted(set(picks))])
    frames = frames.with_keypoints([v for v in gt.keypoints if v in mapping.values()])
    preds = {}
    for adapter, s in stored.items():
        values = np.full((frames.n_frames, frames.n_keypoints, 3), np.nan)
        rows = [list(s.frame_ids).index(f) for f in frames.frame_ids]
        for src, dst in mapping.items():
            values[:, frames.keypoints.index(dst)] = s.values[rows, list(s.keypoints).index(src)]
        preds[adapter] = values
    titles = [f if len(f) <= 32 else "…" + f[-31:] for f in frames.frame_ids]
    return overlay_grid(
        frames.image_paths,
        frames.points,
        preds,
        frames.skeleton.edges,
        frames.keypoints,
        titles,
        out,
        adapter_colors=colors,
    )


# ----------------------------------------------------------------------------- sweeps
def _options(point: str | None) -> str | None:
    """A sweep point's options (``filters=16,depth=3``) without the sweep's label."""
    return point.split("@", 1)[-1] if point else None


def sweeps(results: RunResults, fig_dir: Path, link: str) -> list[dict[str, Any]]:
    """Per ``select_by`` sweep and dataset: each point's inner-fold error per outer fold
    (the chosen point in bold; figure: every inner job), and the tuned adapter's test error
    beside the error of the run's entries of the same adapter that sweep nothing."""
    entries = [a for a in results.run.config.get("adapters", []) if a.get("select_by")]
    if not entries:
        return []
    overall = _overall(results)
    tests = overall[(overall["metric"] == RANKING_METRIC) & overall["train_size"].isna()]
    sections = []
    for entry in entries:
        label = entry.get("label") or entry["name"]
        plain = [
            a.get("label") or a["name"]
            for a in results.run.config["adapters"]
            if a["name"] == entry["name"] and not a.get("sweep")
        ]
        for name in results.dataset_names():
            tuned = [j for j in results.jobs if j.dataset == name and j.adapter == label]
            tuned = [j for j in tuned if j.selection is not None]
            if not tuned:
                continue
            folds = sorted({j.fold for j in tuned})
            points = list(tuned[0].selection["points"])
            rows = []
            for point in points:
                cells = []
                for fold in folds:
                    sel = next(j.selection for j in tuned if j.fold == fold)
                    text = _px(sel["points"][point]["mean"])
                    cells.append(f"**{text}**" if sel["chosen"] == point else text)
                rows.append([f"`{_options(point)}`", *cells])
            here = tests[tests["dataset"] == name]
            compare = []
            for adapter in [label, *plain]:
                part = here[here["adapter"] == adapter].groupby("fold")["value"].mean()
                compare.append(
                    [adapter, *[_px(part.get(f)) for f in folds], _px(float(part.mean()))]
                )
            png = figures.sweep_figure(
                {
                    j.fold: {_options(p): v["errors"] for p, v in j.selection["points"].items()}
                    for j in tuned
                },
                {j.fold: _options(j.selection["chosen"]) for j in tuned},
                metric(RANKING_METRIC).label,
                f"{label} on {name}: inner-fold error per sweep point",
                fig_dir / f"{name}_sweep_{label}.png",
            )
            sections.append(
                {
                    "label": label,
                    "dataset": name,
                    "figure": f"{link}/{png.name}",
                    "fold_headers": [f"fold {f}" for f in folds],
                    "inner_folds": tuned[0].selection.get("inner_folds"),
                    "rows": rows,
                    "compare": compare,
                }
            )
    return sections
