"""``kpbench report RUN_DIR``: a markdown report with figures, from stored results only."""

from __future__ import annotations

import itertools
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

import jinja2
import numpy as np
import pandas as pd

from benchmark.errors import InputError
from benchmark.io.predictions import align_predictions, read_predictions
from benchmark.metrics import (
    CUTOFF_PREFIX,
    MISS_PENALTY_WORDS,
    NO_LEARNING_SPREAD,
    RANKING_METRIC,
    metric,
    pck_metric,
)
from benchmark.paths import atomic_write_text
from benchmark.records import DatasetRecord, JobRecord
from benchmark.report import figures, studies
from benchmark.report.compare import (
    CURVE_METRICS,
    FRACTIONS,
    Convergence,
    Ranking,
    budget_points,
    budget_summary,
    convergence,
    fold_spread,
    leaders,
    rank_adapters,
    rank_groups,
    regressions,
    still_improving,
    time_to_accuracy,
)
from benchmark.report.load import RunResults, ground_truth, load_run
from benchmark.report.overlays import overlay_grid
from benchmark.report.summary import (
    MISS_FLAG,
    describe_adapter,
    device_words,
    ending_words,
    epochs_words,
    fmt_count,
    fmt_duration,
    fmt_interval,
    fmt_mb,
    fmt_metric,
    fmt_pct,
    fmt_px,
    fmt_rate,
    fmt_signed_px,
    md_table,
    metric_header,
    notes_summary,
    options,
    report_metrics,
    schedule_summary,
)
from benchmark.report.tracks import tracking_context
from benchmark.runner.lock import holder, holder_words

STDERR_LINES = 20
NOTES_CHARS = 80  # notes in the schedules table; every note is listed below it
JOB_KEYS = ["dataset", "fold", "adapter", "seed"]
RANKING_LABEL = metric(RANKING_METRIC).label


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def job_table(results: RunResults) -> pd.DataFrame:
    """One row per job: identity, status and overall metrics (``metrics.csv`` ``all`` rows).

    Timing and model size missing from ``metrics.csv`` are taken from ``job.json``.
    """
    overall = results.metrics[results.metrics["keypoint"] == "all"]
    by_job = {
        (str(d), int(f), str(a), int(s)): dict(zip(g["metric"], g["value"], strict=True))
        for (d, f, a, s), g in overall.groupby(JOB_KEYS, sort=False)
    }
    rows = []
    for job in results.jobs:
        row: dict = {"job_id": job.job_id, "status": job.status}
        row.update(dataset=job.dataset, fold=job.fold, adapter=job.adapter, seed=job.seed)
        if job.status == "done":
            for section in (job.timing, job.model):
                for key, value in asdict(section).items() if section is not None else ():
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        row[key] = float(value)
            row.update(by_job.get((job.dataset, job.fold, job.adapter, job.seed), {}))
        rows.append(row)
    return (
        pd.DataFrame(rows, columns=["job_id", "status", *JOB_KEYS])
        if not rows
        else pd.DataFrame(rows)
    )


def _mean(frame: pd.DataFrame, column: str) -> float:
    """Mean of a column over jobs, NaN when the column is absent or empty."""
    if column not in frame.columns:
        return float("nan")
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    return float(values.mean()) if len(values) else float("nan")


def _adapter_order(jobs: pd.DataFrame, ranking: Ranking | None = None) -> list[str]:
    """Adapters in ranking order, then others with results by ascending median error, then
    adapters with none (by name)."""
    ranked = list(ranking.adapters) if ranking is not None else []
    done = jobs[(jobs["status"] == "done") & ~jobs["adapter"].isin(ranked)]
    medians = {a: _mean(g, "median_px") for a, g in done.groupby("adapter")}
    ranked += sorted(medians, key=lambda a: (np.nan_to_num(medians[a], nan=np.inf), a))
    return ranked + sorted(set(jobs["adapter"]) - set(ranked))


def _of_jobs(frame: pd.DataFrame, keys: set[tuple[str, ...]]) -> pd.DataFrame:
    """Rows of a metrics or frame-errors table whose job (``JOB_KEYS`` as strings) is in keys."""
    rows = frame[JOB_KEYS].astype(str).to_numpy()
    return frame[np.array([tuple(k) in keys for k in rows], dtype=bool)]


def _distinct(mappings: Iterable[object]) -> list[dict]:
    """The distinct non-empty mappings among ``mappings``, in first-seen order."""
    out: list[dict] = []
    for mapping in mappings:
        if isinstance(mapping, dict) and mapping and mapping not in out:
            out.append(mapping)
    return out


def _code_list(mapping: dict) -> str:
    """Every option of a nested mapping as markdown code spans: `` `a=1`, `b.c=2` ``."""
    spans = (
        f"{key}={value}".replace("`", "'").replace("\n", " ") for key, value in options(mapping)
    )
    return ", ".join(f"`{span}`" for span in spans)


def _job_count(n_done: int, n_failed: int) -> str:
    return f"{n_done}" + (f" (+{n_failed} failed)" if n_failed else "")


def _host_words(host: dict) -> str:
    """The run's hardware in a few words."""
    if not host:
        return "not recorded"
    cpu = host.get("cpu") or "unknown CPU"
    cores = host.get("cpu_count") or host.get("cores")
    gpu = host.get("gpu")
    gpu_text = ", ".join(gpu) if isinstance(gpu, list) else gpu
    return f"{cpu}" + (f" ({cores} cores)" if cores else "") + f"; GPU: {gpu_text or 'none'}"


def _hardware(results: RunResults) -> str:
    """The machines that trained: the run's host, or a cluster's nodes by hardware."""
    hosts: dict[str, set[str]] = {}
    for job in results.jobs:
        if job.status == "done" and job.execution and job.execution.executor == "slurm":
            words = _host_words(job.provenance.get("host", {}))
            hosts.setdefault(words, set()).add(job.execution.node or "node not recorded")
    if not hosts:
        return _host_words(results.run.host)
    parts = [f"{words} on {', '.join(sorted(nodes))}" for words, nodes in sorted(hosts.items())]
    return "Slurm jobs, " + "; ".join(parts)


def _dataset_heading(name: str, meta: DatasetRecord | None) -> tuple[str, str]:
    """Heading suffix (synthetic or real, species) and a line of facts for one dataset."""
    if meta is None:
        return "not recorded", ""
    species = meta.species
    if meta.synthetic:
        kind = f"synthetic, {species or 'species not recorded'}"
    else:  # "real data" only where the dataset's record names an animal
        kind = f"real data, {species}" if species else "species not recorded"
    facts = [f"{meta.n_frames} labelled frames"]
    if meta.keypoints:
        facts.append(f"{len(meta.keypoints)} keypoints ({', '.join(meta.keypoints)})")
    if meta.image_size and len(meta.image_size) == 2:
        facts.append(f"{meta.image_size[0]}×{meta.image_size[1]} px")
    facts.append(f"format {meta.format}")
    facts.append(f"content hash `{meta.hash[:12]}`")
    return kind, "; ".join(facts)


def _overlay(
    results: RunResults, name: str, jobs: list[JobRecord], order: list[str], colors: dict, out: Path
) -> tuple[Path | None, str]:
    """Overlay grid for one dataset; returns the PNG (or None) and a caption or the reason."""
    if results.overlay_frames == 0:
        return None, "No overlay: the run config asks for none (overlay_frames: 0)."
    gt = ground_truth(results, name)
    if gt is None:
        return None, "No overlay: the run holds no ground truth or image list for this dataset."
    done = [j for j in jobs if j.status == "done" and results.predictions_path(j).is_file()]
    if not done:
        return None, "No overlay: no job of this dataset has predictions."
    # The fold where most adapters have predictions (the lowest on ties).
    folds = {f: len({j.adapter for j in done if j.fold == f}) for f in {j.fold for j in done}}
    fold = min(folds, key=lambda f: (-folds[f], f))
    chosen: dict[str, JobRecord] = {}
    for job in sorted(done, key=lambda j: (j.fold, j.seed)):
        if job.fold == fold:
            chosen.setdefault(job.adapter, job)
    paths = {a: results.predictions_path(chosen[a]) for a in order if a in chosen}
    stored = {a: read_predictions(path) for a, path in paths.items()}
    common = [
        f
        for f, image in zip(gt.frame_ids, gt.image_paths, strict=True)
        if all(f in p.frame_ids for p in stored.values()) and image.is_file()
    ]
    if not common:
        return None, "No overlay: the test frames' images are not on this machine."
    picks = np.linspace(0, len(common) - 1, min(results.overlay_frames, len(common))).round()
    frames = gt.subset([common[int(i)] for i in sorted(set(picks))])
    preds = {a: align_predictions(frames, p, paths[a]) for a, p in stored.items()}
    titles = [f if len(f) <= 32 else "…" + f[-31:] for f in frames.frame_ids]
    png = overlay_grid(
        frames.image_paths,
        frames.points,
        preds,
        frames.skeleton.edges,
        frames.keypoints,
        titles,
        out,
        adapter_colors=colors,
    )
    caption = (
        f"{frames.n_frames} test frames of fold {fold} (rows), one column per adapter; one "
        "colour per keypoint. A ring is the labelled point, a dot of its colour the adapter's "
        "prediction, joined by a line; a cross in a ring marks a keypoint the adapter did not "
        "detect. Each panel gives its mean error over detected keypoints."
    )
    absent = [a for a in order if a not in chosen]
    if absent:
        lost = {j.adapter for j in jobs if j.status == "done" and j.fold == fold} - set(chosen)
        why = [
            f"{a} (its predictions file is missing)"
            if a in lost
            else f"{a} (no finished job in fold {fold})"
            for a in absent
        ]
        caption += f" Not shown: {', '.join(why)}."
    return png, caption


def _overall_means(frame: pd.DataFrame) -> dict[str, float]:
    """Every numeric column's mean over the jobs of ``frame``."""
    return {c: _mean(frame, c) for c in frame.columns if c not in ("job_id", "status", *JOB_KEYS)}


def _standing(ranking: Ranking | None, adapter: str) -> str | None:
    """An adapter's place in the ranking, in words."""
    if ranking is None or adapter not in ranking.ranks or len(ranking.adapters) < 2:
        return None
    of = len(ranking.adapters)
    if adapter == ranking.best:
        tied = f", not distinguishable from {_and(ranking.ties)}" if ranking.ties else ""
        return f"best of {of} by {RANKING_LABEL}{tied}"
    if adapter in ranking.ties:
        return f"not distinguishable from the best, {ranking.best}"
    return f"rank {ranking.ranks[adapter]} of {of} by {RANKING_LABEL}"


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _vs_best(ranking: Ranking | None, adapter: str) -> tuple[str, str]:
    """The accuracy table's *rank* and *vs best* cells of an adapter."""
    if ranking is None or adapter not in ranking.ranks:
        return "—", "—"
    rank = str(ranking.ranks[adapter])
    if adapter == ranking.best:
        return rank, "**best**"
    if adapter in ranking.ties:
        return rank, "not distinguishable"
    pair = ranking.pair(adapter, ranking.best or adapter)
    if pair is None:
        return rank, "—"
    return rank, f"{fmt_signed_px(pair.difference)} px ({fmt_interval(pair.low, pair.high, True)})"


def _ranking_context(ranking: Ranking | None, has_scored: bool) -> dict:
    """The ranking section: one line per rank, the ties in words, every pair's interval."""
    if ranking is None:
        why = (
            "no finished job of this dataset has frame errors"
            if has_scored
            else "this run's `frame_errors.csv` has no `scored_px` column (it predates the "
            "ranking metric), so no paired comparison can be made"
        )
        return {"missing": f"No ranking with uncertainty: {why}.", "lines": [], "ties": []}
    lines = []
    for rank, names in rank_groups(ranking):
        means = ", ".join(f"{a} {fmt_px(ranking.mean[a])} px" for a in names)
        lines.append(f"**{rank}**: {_and(names)} ({RANKING_LABEL}: {means})")
    ties = [
        f"{p.a} and {p.b}: not distinguishable on this data (difference "
        f"{fmt_signed_px(p.difference)} px, 95% CI {fmt_interval(p.low, p.high, True)})"
        for p in ranking.pairs
        if p.tied and p.difference is not None
    ]
    pairs = [
        [
            f"{p.a} − {p.b}",
            fmt_signed_px(p.difference),
            fmt_interval(p.low, p.high, True),
            str(p.n_keypoints),
            p.verdict() if p.difference is not None else "no common keypoints",
        ]
        for p in ranking.pairs
    ]
    return {"missing": None, "lines": lines, "ties": ties, "pairs": pairs}


def _cutoff_context(
    results: RunResults, overall: pd.DataFrame, order: list[str], new_style: bool
) -> dict:
    """The own-cutoff table: each framework's cutoff applied as its users would see it."""
    if not new_style:
        return {
            "missing": "Not in this run: it predates the own-cutoff metrics (no `cutoff_*` rows "
            "in `metrics.csv`).",
            "rows": [],
        }
    pcks = [pck_metric(t) for t in results.thresholds]
    columns = [metric("detection_rate"), metric("median_px"), metric("mean_px"), *pcks]
    rows = []
    for adapter in order:
        mine = overall[overall["adapter"] == adapter]
        if mine.empty:
            continue
        means = mine.groupby("metric")["value"].mean()
        if "score_cutoff" in means.index:
            cutoff = f"{means['score_cutoff']:g}"
            cells = [fmt_metric(m, means.get(CUTOFF_PREFIX + m.name)) for m in columns]
        else:
            cutoff = "none: every location counts"
            cells = [fmt_metric(m, means.get(m.name)) for m in columns]
        rows.append([adapter, cutoff, *cells])
    header = ["adapter", "own cutoff", *(m.label for m in columns)]
    return {"missing": None, "rows": rows, "header": header}


def _curve_context(
    results: RunResults,
    name: str,
    done_keys: set[tuple[str, ...]],
    order: list[str],
    colors: dict,
    out: Path,
    link_prefix: str,
) -> dict:
    """The learning-curve figure, the table at 25/50/100% of the budget and the leaders."""
    if results.curves is None:
        return {
            "missing": "No learning curves: this run has no `curves.csv` (it predates "
            "training snapshots)."
        }
    curves = _of_jobs(results.curves[results.curves["dataset"] == name], done_keys)
    if curves.empty:
        return {"missing": "No learning curves: no finished job of this dataset has a curve."}
    budget = results.budget_s
    png = figures.learning_curves(curves, order, colors, out, budget)
    summary = budget_summary(budget_points(curves, budget))

    def at(fraction: float) -> str:
        if budget is None:
            return f"{100 * fraction:.0f}%"
        return f"{100 * fraction:.0f}% ({fmt_duration(fraction * budget)})"

    header = ["adapter"]
    for label in ("mean px (all)", "median px"):
        header += [f"{label} at {at(f)}" for f in FRACTIONS]
    rows, partial = [], False
    for adapter in order:
        mine = summary[summary["adapter"] == adapter].set_index("fraction")
        if mine.empty:
            continue
        cells = [adapter]
        for key in CURVE_METRICS:
            for f in FRACTIONS:
                if f not in mine.index or not np.isfinite(mine.loc[f, key]):
                    cells.append("—")
                    continue
                cell = fmt_px(mine.loc[f, key])
                if mine.loc[f, "n_jobs"] < mine.loc[f, "of_jobs"]:
                    cell, partial = cell + "*", True
                cells.append(cell)
        rows.append(cells)
    return {
        "missing": None,
        "figure": f"{link_prefix}/{quote(png.name)}" if png is not None else None,
        "header": header,
        "rows": rows,
        "partial": partial,
        "budget": fmt_duration(budget) if budget is not None else None,
        "leaders": _leader_words(summary, at, budget is not None),
        "improving": _improving_words(still_improving(curves, budget)),
        "regressed": _regressed_words(curves),
        **_time_to_accuracy_context(curves, order, results.target_pck, budget),
    }


def _time_to_accuracy_context(
    curves: pd.DataFrame,
    order: list[str],
    target_pck: tuple[float, float],
    budget_s: float | None,
) -> dict:
    """The time-to-accuracy table: per adapter, when its curve came within 10% of its own
    best error, when it reached the common PCK target, and whether it plateaued."""
    threshold, share = target_pck
    metric = pck_metric(threshold).name
    target = f"{metric} >= {100 * share:.0f}%"
    table = time_to_accuracy(curves, metric, share).set_index("adapter")
    ends = convergence(curves, budget_s)
    rows = []
    for adapter in order:
        if adapter not in table.index:
            continue
        row = table.loc[adapter]
        if np.isfinite(row["target_s"]):
            to_target = fmt_duration(row["target_s"])
        elif np.isnan(row["best_target"]):
            to_target = "— (not measured)"
        else:
            reached = f"{int(row['reached'])} of {int(row['jobs'])} jobs"
            to_target = f"not reached ({reached}; best {fmt_pct(row['best_target'])})"
        rows.append(
            [
                adapter,
                fmt_duration(row["near_best_s"]),
                to_target,
                _plateau_words(ends.get(adapter)),
            ]
        )
    header = ["adapter", "within 10% of its best error", f"to {target}", "plateau"]
    return {"tta_header": header, "tta_rows": rows, "tta_target": target}


def _plateau_words(end: Convergence | None) -> str:
    """Whether an adapter reached its plateau, in the time-to-accuracy table's words."""
    if end is None or end.plateaued is None:
        return "— (no point at half its training)"
    fell = f"error fell {100 * end.drop:.0f}% over the second half" if end.drop is not None else ""
    if end.plateaued:
        return f"reached ({fell})" if fell else "reached"
    if end.still_learning:
        return f"**still learning** ({fell})"
    return f"schedule ended while still learning ({fell})"


def _regressed_words(curves: pd.DataFrame) -> str | None:
    """The jobs whose final model is clearly worse than one of their snapshots, in words."""
    found = regressions(curves)
    if not found:
        return None
    parts = []
    for adapter, jobs in found.items():
        worst = max(jobs, key=lambda r: r.final_px / r.snapshot_px)
        parts.append(
            f"{adapter} (fold {worst.fold}, seed {worst.seed}: {fmt_px(worst.final_px)} px at "
            f"the end against {fmt_px(worst.snapshot_px)} px at "
            f"{fmt_duration(worst.snapshot_s)}{_more_jobs(len(jobs))})"
        )
    return (
        f"Final model clearly worse than its own snapshot: {_and(parts)}. Training made these "
        "models worse before the budget ended (overfitting, or an unstable schedule on this "
        "data); their rank is that of the final model."
    )


def _more_jobs(n: int) -> str:
    return f"; {n} jobs in all" if n > 1 else ""


def learning_flags(overall: pd.DataFrame, curves: pd.DataFrame | None) -> dict[str, list[str]]:
    """Per adapter, why its rank on this dataset does not show what its framework can do:
    its predictions barely follow the animal (:data:`NO_LEARNING_SPREAD`), or its final model
    is clearly worse than one of its snapshots (:func:`regressions`).

    Args:
        overall: ``metrics.csv`` rows (keypoint ``all``) of the dataset's finished jobs.
        curves: ``curves.csv`` rows of the same jobs (None: the run has none).
    """
    flags: dict[str, list[str]] = {}
    spread = overall[overall["metric"] == "spread_ratio"]
    for adapter, rows in spread.groupby("adapter", sort=False):
        values = rows["value"].astype(float).dropna()
        stuck = values[values < NO_LEARNING_SPREAD]
        if len(stuck):
            of = f" in {len(stuck)} of {len(values)} jobs" if len(values) > 1 else ""
            flags.setdefault(str(adapter), []).append(
                f"did not learn at this budget{of} (its predictions move across the test "
                f"frames {100 * float(stuck.min()):.0f}% as much as the labels)"
            )
    for adapter, jobs in (regressions(curves) if curves is not None else {}).items():
        worst = max(jobs, key=lambda r: r.final_px / r.snapshot_px)
        flags.setdefault(adapter, []).append(
            f"final model worse than its snapshot at {fmt_duration(worst.snapshot_s)} "
            f"({fmt_px(worst.final_px)} px against {fmt_px(worst.snapshot_px)} px"
            f"{_more_jobs(len(jobs))})"
        )
    return flags


def _improving_words(improving: dict[str, float]) -> str | None:
    """Which adapters the budget stopped while they were still improving fast, in words."""
    if not improving:
        return None
    parts = [f"{a} (its {RANKING_LABEL} fell {100 * drop:.0f}%)" for a, drop in improving.items()]
    return (
        f"Still improving when the budget ended: {_and(parts)}, from the last snapshot (about 75% "
        "of the budget) to the final model. A larger budget may change their rank; the "
        "README (Training budget) says how to run one."
    )


def _leader_words(
    summary: pd.DataFrame, at: Callable[[float], str], budget: bool = True
) -> str | None:
    """Who leads by the ranking metric at each fraction of the budget (of each job's own
    training time without one), in words; None when fewer than two adapters have curves."""
    if summary["adapter"].nunique() < 2:
        return None
    steps = [(f, leaders(summary, f)) for f in FRACTIONS]
    steps = [(f, names) for f, names in steps if names]
    if not steps:
        return None
    changes = [steps[0]] + [s for prev, s in itertools.pairwise(steps) if s[1] != prev[1]]
    scope = "the budget" if budget else "each job's own training time"

    def lead(names: list[str]) -> str:
        return f"{_and(names)} {'lead (equal)' if len(names) > 1 else 'leads'}"

    if len(changes) == 1:
        points = _and([at(f) for f, _ in steps])
        return f"By {RANKING_LABEL}, {lead(changes[0][1])} at {points} of {scope}."
    first, *rest = changes
    text = f"By {RANKING_LABEL} (percentages of {scope}): at {at(first[0])} {lead(first[1])}"
    text += "".join(
        f"; from {at(f)} {_and(names)}{' (equal)' if len(names) > 1 else ''}" for f, names in rest
    )
    return text + ". The ranking changes with the training time."


def _fold_context(overall: pd.DataFrame, order: list[str]) -> dict | None:
    """Spread of the ranking metric over folds; None when the dataset has one fold."""
    if overall["fold"].nunique() < 2:
        return None
    spread = fold_spread(overall, RANKING_METRIC)
    if spread.empty:
        return {"missing": f"Not in this run: its metrics have no `{RANKING_METRIC}`.", "rows": []}
    rows = []
    for adapter in order:
        mine = spread[spread["adapter"] == adapter]
        if mine.empty:
            continue
        row = mine.iloc[0]
        per_fold = ", ".join(f"fold {f}: {fmt_px(v)}" for f, v in sorted(row["per_fold"].items()))
        rows.append(
            [
                adapter,
                str(row["n_folds"]),
                fmt_px(row["mean"]),
                f"{fmt_px(row['min'])}–{fmt_px(row['max'])}",
                per_fold,
            ]
        )
    return {"missing": None, "rows": rows}


def _budget_words(results: RunResults) -> str:
    """The run's training budget in a sentence."""
    if not results.budget_recorded:
        return "Training budget: not recorded (the run predates training budgets)."
    if results.budget_s is None:
        return "Training budget: none; each adapter's own schedule decided when to stop."
    return (
        f"Training budget: {fmt_duration(results.budget_s)} of training per job, the same for "
        "every adapter (the harness's clock, at the run's thread count); a job that reaches "
        "it stops at its next epoch boundary, keeps its latest weights and is done, *stopped "
        "by budget*."
    )


def _dataset_context(
    results: RunResults,
    name: str,
    jobs_df: pd.DataFrame,
    colors: dict,
    fig_dir: Path,
    link_prefix: str,
) -> dict:
    """Everything the template shows for one dataset, as formatted strings."""
    meta = results.datasets.get(name)
    kind, facts = _dataset_heading(name, meta)
    jobs = [j for j in results.jobs if j.dataset == name]
    table = jobs_df[jobs_df["dataset"] == name]
    done = table[table["status"] == "done"]
    done_keys = set(map(tuple, done[JOB_KEYS].astype(str).to_numpy()))
    errors = _of_jobs(results.frame_errors[results.frame_errors["dataset"] == name], done_keys)
    job_means = {str(a): _mean(g, RANKING_METRIC) for a, g in done.groupby("adapter")}
    ranking = rank_adapters(errors, job_means) if len(errors) else None
    order = _adapter_order(table, ranking) if len(table) else []
    keypoints = list(meta.keypoints) if meta is not None else []
    metrics = _of_jobs(results.metrics[results.metrics["dataset"] == name], done_keys)
    overall = metrics[metrics["keypoint"] == "all"]
    per_kp = metrics[metrics["keypoint"] != "all"]
    kp_means = per_kp.groupby(["adapter", "keypoint", "metric"])["value"].mean()
    for kp in dict.fromkeys(per_kp["keypoint"]):
        if kp not in keypoints:
            keypoints.append(kp)
    done_jobs = [j for j in jobs if j.status == "done"]
    # Budgets, curves and own cutoffs came together: a run whose jobs record training has them.
    new_style = any(j.training is not None for j in results.jobs if j.status == "done")

    curves_of = None
    if results.curves is not None:
        curves_of = _of_jobs(results.curves[results.curves["dataset"] == name], done_keys)
    flags = learning_flags(overall, curves_of)
    provisional = _provisional(ranking, curves_of, results.budget_s, order)
    table_metrics = report_metrics(results.thresholds)
    accuracy, timing, summaries, schedules, full_schedules = [], [], [], [], []
    for adapter in order:
        mine = table[table["adapter"] == adapter]
        ok = mine[mine["status"] == "done"]
        n_failed = len(mine) - len(ok)
        m = _overall_means(ok)
        get = m.get
        count = _job_count(len(ok), n_failed)
        ci = ""
        if not np.isnan(get("mean_px_ci95_low", np.nan)):
            ci = f" ({fmt_px(get('mean_px_ci95_low'))}–{fmt_px(get('mean_px_ci95_high'))})"
        cells = {m.name: fmt_metric(m, get(m.name)) for m in table_metrics}
        if not np.isnan(get("mean_px", np.nan)):
            cells["mean_px"] += ci
        rank, vs_best = _vs_best(ranking, adapter)
        accuracy.append([adapter, count, rank, vs_best, *(cells[m.name] for m in table_metrics)])
        records = [j for j in done_jobs if j.adapter == adapter]
        setup = get("setup_s") if any(r.training is not None for r in records) else None
        timing.append(
            [
                adapter,
                count,
                ending_words(records) if records else "—",
                epochs_words(records),
                fmt_duration(get("train_s")),
                fmt_duration(setup),
                fmt_duration(get("train_cpu_s")),
                fmt_rate(get("predict_fps")),
                fmt_duration(get("load_s")),
                fmt_mb(get("peak_rss_mb")),
                fmt_count(get("n_params")),
                fmt_mb(get("model_mb")),
                device_words(records) if records else "—",
            ]
        )
        detection = {
            kp: float(kp_means.get((adapter, kp, "detection_rate"), np.nan)) for kp in keypoints
        }
        summaries.append(
            (
                adapter,
                "; ".join(
                    [
                        *(f"**{flag}**" for flag in flags.get(adapter, [])),
                        describe_adapter(
                            adapter, m, detection, records, n_failed, _standing(ranking, adapter)
                        ),
                    ]
                ),
            )
        )
        all_records = [j for j in jobs if j.adapter == adapter]
        versions = sorted({str(r.framework_version) for r in all_records if r.framework_version})
        configs = _distinct(r.adapter_config for r in all_records)
        notes = _distinct(r.notes for r in all_records)
        schedules.append(
            [
                adapter,
                ", ".join(versions) or "—",
                " / ".join(schedule_summary(c) for c in configs) or "—",
                " / ".join(notes_summary(n, NOTES_CHARS) for n in notes) or "—",
            ]
        )
        if configs or notes:
            full_schedules.append(
                {
                    "adapter": adapter,
                    "schedules": [_code_list(c) for c in configs],
                    "notes": [_code_list(n) for n in notes],
                }
            )

    keypoint_rows = []
    flagged = False
    with_kp = [a for a in order if a in set(per_kp["adapter"])]
    for kp in keypoints:
        cells = []
        for adapter in with_kp:
            err = kp_means.get((adapter, kp, "mean_px"), np.nan)
            det = kp_means.get((adapter, kp, "detection_rate"), np.nan)
            if np.isnan(err) and np.isnan(det):
                cells.append("—")
                continue
            cell = f"{fmt_px(err)} px · {fmt_pct(det)}"
            if not np.isnan(det) and det < MISS_FLAG:
                cell, flagged = f"**⚠ {cell}**", True
            cells.append(cell)
        keypoint_rows.append([kp, *cells])

    slug = _slug(name)
    figs = []
    for title, path in (
        (
            "Error distribution",
            figures.error_ecdf(errors, order, colors, fig_dir / f"{slug}_ecdf.png"),
        ),
        (
            "Error per keypoint",
            figures.keypoint_errors(
                errors, keypoints, order, colors, fig_dir / f"{slug}_keypoints.png"
            ),
        ),
        (
            "Accuracy vs training time",
            figures.accuracy_vs_time(done, order, colors, fig_dir / f"{slug}_time.png"),
        ),
    ):
        if path is not None:
            figs.append({"title": title, "link": f"{link_prefix}/{quote(path.name)}"})
    overlay_png, overlay_caption = _overlay(
        results, name, jobs, order, colors, fig_dir / f"{slug}_overlay.png"
    )
    curves = _curve_context(
        results, name, done_keys, order, colors, fig_dir / f"{slug}_curves.png", link_prefix
    )
    return {
        "name": name,
        "kind": kind,
        "synthetic": bool(meta is not None and meta.synthetic),
        "facts": facts,
        "n_jobs": len(table),
        "n_done": len(done),
        "summaries": summaries,
        "ranking": _ranking_context(ranking, results.has_scored_errors),
        "verdict": [
            *_verdict_row(name, meta, ranking, results.has_scored_errors, len(done)),
            provisional["status"],
        ],
        "provisional": provisional["words"],
        "flags": [(adapter, flags[adapter]) for adapter in order if adapter in flags],
        "accuracy": accuracy,
        "accuracy_header": ["adapter", "jobs", "rank", "vs best", *metric_header(table_metrics)],
        "cutoffs": _cutoff_context(results, overall, order, new_style),
        "curves": curves,
        "folds": _fold_context(overall, order),
        "budget": _budget_words(results),
        "timing": timing,
        "keypoint_adapters": with_kp,
        "keypoint_rows": keypoint_rows,
        "flagged": flagged,
        "figures": figs,
        "overlay": f"{link_prefix}/{quote(overlay_png.name)}" if overlay_png else None,
        "overlay_caption": overlay_caption,
        "schedules": schedules,
        "full_schedules": full_schedules,
    }


def _data_words(meta: DatasetRecord | None) -> str:
    """Real or synthetic, in the verdict table."""
    if meta is None:
        return "not recorded"
    if meta.synthetic:
        return "synthetic (rendered)"
    return f"real ({meta.species})" if meta.species else "real"


def _provisional(
    ranking: Ranking | None,
    curves: pd.DataFrame | None,
    budget_s: float | None,
    order: list[str],
) -> dict:
    """Whether a dataset's verdict is final at this budget, and if not, why, in words.

    The contenders are the best adapter, those not distinguishable from it, and those whose
    error still fell fast at the end (:func:`still_improving`). The verdict is final when
    none of them was stopped by the budget before its plateau (:func:`convergence`);
    otherwise it is provisional, naming each contender still learning, how much its error
    fell over the second half of its training, and, at the rate of that last doubling of
    training time, the budget at which it would reach the best's error.
    """
    if ranking is None or ranking.best is None or curves is None or curves.empty:
        return {"status": "—", "words": None}
    ends = convergence(curves, budget_s)
    fast = still_improving(curves, budget_s)
    contenders = [a for a in order if a == ranking.best or a in ranking.ties or a in fast]
    learning = [a for a in contenders if a in ends and ends[a].still_learning]
    if not learning:
        unknown = [a for a in contenders if a in ends and ends[a].plateaued is None]
        return {"status": "final" if not unknown else "—", "words": None}
    best = ranking.best
    parts, budgets = [], []
    for adapter in learning:
        end = ends[adapter]
        fell = f"{100 * end.drop:.0f}%" if end.drop is not None else "?"
        part = f"{adapter} (its {RANKING_LABEL} fell {fell} over the second half of its training"
        catch = _catch_up_s(end, ranking.mean.get(best)) if adapter != best else None
        if catch is not None:
            budgets.append(catch)
            part += f"; at that rate it would reach {best}'s error at about {fmt_duration(catch)}"
        parts.append(part + ")")
    words = f"still learning when the budget ended: {_and(parts)}."
    if best in learning:
        words += f" The best, {best}, is itself still learning: its lead may grow."
    if budgets:
        words += f" A budget of about {fmt_duration(max(budgets))} could change the ranking."
    else:
        words += " A larger budget could change the ranking."
    return {"status": "**provisional**", "words": words}


def _catch_up_s(end: Convergence, target_px: float | None) -> float | None:
    """The training time at which ``end``'s error would reach ``target_px`` if it kept
    falling by the same factor with each doubling of training time as over its last one."""
    if target_px is None or end.final_px is None or end.half_px is None or not end.final_s:
        return None
    rate = end.final_px / end.half_px
    if not 0 < rate < 1 or target_px <= 0:
        return None
    if end.final_px <= target_px:
        return end.final_s
    return end.final_s * 2 ** (np.log(target_px / end.final_px) / np.log(rate))


def _verdict_row(
    name: str, meta: DatasetRecord | None, ranking: Ranking | None, has_scored: bool, n_done: int
) -> list[str]:
    """One dataset's row of the verdict table."""
    data = _data_words(meta)
    if ranking is None or ranking.best is None:
        if not n_done:
            why = "no finished job"
        elif has_scored:
            why = "no frame errors"
        else:
            why = "no ranking (the run predates scored errors)"
        return [name, data, "—", "—", "—", why]
    best = ranking.best
    low, high = ranking.median_ci[best]
    median = f"{fmt_px(ranking.median[best])} ({fmt_interval(low, high)})"
    if len(ranking.adapters) == 1:
        others = "— (the only adapter with results)"
    else:
        others = ", ".join(ranking.ties) or "none: every other adapter is worse"
    return [name, data, f"**{best}**", fmt_px(ranking.mean[best]), median, others]


def _dataset_order(results: RunResults) -> list[str]:
    """Datasets with real data first, then those not recorded, then synthetic ones (each
    group in the run's order)."""

    def group(name: str) -> int:
        meta = results.datasets.get(name)
        return 1 if meta is None else 2 if meta.synthetic else 0

    return sorted(results.dataset_names(), key=group)


def _job_count_context(results: RunResults) -> dict:
    """The header's job counts (every job, study jobs included; those not run yet too) and,
    for a run that is still running, a line that says so."""
    statuses = Counter(j.status for j in results.study_jobs)
    planned = results.run.planned_jobs
    n_jobs = max(planned or 0, len(results.study_jobs))
    if n_jobs > len(results.study_jobs):
        statuses["not run yet"] = n_jobs - len(results.study_jobs)
    pid = holder(results.run_dir)
    in_progress = None
    if pid is not None:
        in_progress = (
            f"**This run is in progress** ({holder_words(pid)}): {statuses['done']} of "
            f"{n_jobs} jobs done. What follows ranks the finished jobs only and will change "
            "as the others finish; render the report again when the run has ended."
        )
    return {
        "n_jobs": n_jobs,
        "job_counts": _status_words(statuses),
        "in_progress": in_progress,
        "all_finished": statuses["done"] == n_jobs,
    }


def _status_words(statuses: Counter[str]) -> str:
    """Job counts by status, finished first: ``8 finished, 1 failed, 2 skipped``."""
    order = ["done", "failed", "skipped", *sorted(set(statuses) - {"done", "failed", "skipped"})]
    words = {"done": "finished"}
    return ", ".join(f"{statuses[s]} {words.get(s, s)}" for s in order if statuses[s])


def _nothing_to_report(results: RunResults, statuses: Counter[str]) -> str:
    """Why a run without a finished job has no report, in one line."""
    if not results.jobs:
        skipped = results.run.skipped_datasets
        why = f" (skipped datasets: {', '.join(sorted(skipped))})" if skipped else ""
        return f"no jobs in this run{why}: nothing to report"
    pid = holder(results.run_dir)
    if pid is not None and all(j.status != "failed" for j in results.jobs):
        return (
            f"the run is in progress ({holder_words(pid)}) and no job has finished yet: "
            "nothing to report"
        )
    first = next(j for j in results.jobs if j.status != "done")
    error = str(first.error or "").strip().splitlines()
    detail = f"; {first.job_id}: {error[0][:120]}" if error else ""
    return (
        f"no finished jobs: {_status_words(statuses)} "
        f"(see {results.run_dir / 'jobs' / '*' / 'job.json'}){detail}"
    )


def _failed(results: RunResults) -> list[dict]:
    """Failed or unfinished jobs (study jobs too) with their error and the end of their
    stderr."""
    out = []
    for job in results.study_jobs:
        if job.status == "done":
            continue
        tail = job.stderr_tail.rstrip().splitlines()[-STDERR_LINES:]
        out.append(
            {
                "job_id": job.job_id,
                "status": job.status,
                "dataset": job.dataset,
                "adapter": job.adapter,
                "fold": job.fold,
                "seed": job.seed,
                "error": str(job.error or "no error recorded").strip(),
                "stderr": "\n".join(tail).replace("```", "'''"),
            }
        )
    return out


def _provenance(results: RunResults) -> dict:
    """Run-level facts and, per adapter, framework and torch versions."""
    run = results.run
    facts = [
        ("run", results.name),
        ("created", run.created or "—"),
        ("kpbench version", run.kpbench_version or "—"),
        ("kpbench commit", f"`{run.git_commit}`" if run.git_commit else "—"),
    ]
    for key, value in run.host.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else value
        facts.append((f"host {key}", "—" if text in (None, "") else text))
    adapters = []
    for adapter in sorted({j.adapter for j in results.jobs}):
        records = [j for j in results.jobs if j.adapter == adapter]
        envs = [r.environment for r in records]
        hosts = [r.provenance.get("host") or {} for r in records]

        def values(items: list[dict], key: str) -> str:
            found = sorted({str(d[key]) for d in items if d.get(key) not in (None, "")})
            return ", ".join(found) or "—"

        # An adapter in its own environment names its backend (e.g. TensorFlow); torch
        # adapters report the worker's torch, falling back to the host's.
        backend = values(envs, "backend")
        if backend == "—":
            torch = values(envs, "torch")
            backend = f"torch {torch if torch != '—' else values(hosts, 'torch')}"
        adapters.append(
            [
                adapter,
                values([{"version": r.framework_version} for r in records], "version"),
                backend,
                values(envs, "python"),
                values(envs, "executable"),
            ]
        )
    return {
        "facts": facts,
        "adapters": adapters,
    }


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("benchmark.report", "templates"),
        autoescape=False,  # markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["md_table"] = md_table
    return env.get_template("report.md.j2")


def default_report_path(results: RunResults) -> Path:
    """``report.md`` in the run directory (its figures then go to ``RUN_DIR/report/``)."""
    return results.run_dir / "report.md"


def render_report(run_dir: Path, out: Path | None = None) -> Path:
    """Render the markdown report of a run directory, reading only stored results.

    Figures go to a folder named after the report, next to it (``RUN_DIR/report/`` for
    ``RUN_DIR/report.md``), and are linked relatively. Re-rendering the same run gives the
    same markdown.

    Args:
        run_dir: A run directory written by ``kpbench run`` (finished or not).
        out: Markdown file to write; default ``RUN_DIR/report.md``.

    Returns:
        The path of the written markdown file.

    Raises:
        InputError: ``run_dir`` is not a run directory, has no finished job (nothing is
            written then), or a stored file is unreadable.
    """
    results = load_run(run_dir)
    statuses = Counter(j.status for j in results.jobs)
    if not statuses["done"]:
        raise InputError(run_dir, _nothing_to_report(results, statuses))
    out = Path(out) if out is not None else default_report_path(results)
    if out.suffix.lower() != ".md":
        raise InputError(out, "the report is markdown: give a path ending in .md")
    fig_dir = out.parent / out.stem
    new_fig_dir = not fig_dir.exists()
    try:
        return _render(results, out, fig_dir)
    except BaseException:
        if new_fig_dir:  # no half-filled figure folder stays (a full disk, say)
            shutil.rmtree(fig_dir, ignore_errors=True)
        raise


def _render(results: RunResults, out: Path, fig_dir: Path) -> Path:
    """:func:`render_report` once the run is read and the output path checked."""
    run_dir = results.run_dir
    jobs_df = job_table(results)
    all_adapters = sorted({j.adapter for j in results.jobs})
    colors = figures.adapter_colors(all_adapters)
    datasets = [
        _dataset_context(results, name, jobs_df, colors, fig_dir, quote(out.stem))
        for name in _dataset_order(results)
    ]
    context = {
        "verdict": [ds["verdict"] for ds in datasets],
        "provisional": [(ds["name"], ds["provisional"]) for ds in datasets if ds["provisional"]],
        "verdict_flags": [
            f"on {ds['name']}, {adapter} {_and(found)}"
            for ds in datasets
            for adapter, found in ds["flags"]
        ],
        "ranking_metric": RANKING_LABEL,
        "miss_penalty": MISS_PENALTY_WORDS,
        "budget": _budget_words(results),
        "has_budget": results.budget_s is not None,
        "name": results.name,
        "description": results.description,
        "created": results.run.created,
        "hardware": _hardware(results),
        **_job_count_context(results),
        "datasets": datasets,
        "failed": _failed(results),
        "skipped_datasets": sorted(results.run.skipped_datasets.items()),
        "label_efficiency": studies.label_efficiency(results, colors, fig_dir, quote(out.stem)),
        "transfer": studies.transfer(results, colors, fig_dir, quote(out.stem)),
        "sweeps": studies.sweeps(results, fig_dir, quote(out.stem)),
        "provenance": _provenance(results),
        "tracking": tracking_context(
            Path(run_dir), fig_dir, quote(out.stem), colors, results.thresholds
        ),
    }
    atomic_write_text(out, _template().render(**context))
    return out
