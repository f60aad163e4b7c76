"""``kpbench report RUN_DIR``: a markdown report with figures, from stored results only."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

import jinja2
import numpy as np
import pandas as pd

from benchmark.errors import InputError
from benchmark.io.predictions import align_predictions, read_predictions
from benchmark.paths import atomic_write_text
from benchmark.records import DatasetRecord, JobRecord
from benchmark.report import figures
from benchmark.report.load import RunResults, ground_truth, load_run
from benchmark.report.overlays import overlay_grid
from benchmark.report.summary import (
    MISS_FLAG,
    compact,
    describe_adapter,
    device_words,
    fmt_count,
    fmt_duration,
    fmt_mb,
    fmt_metric,
    fmt_pct,
    fmt_px,
    fmt_rate,
    md_table,
    metric_header,
    options,
    report_metrics,
    schedule_summary,
)
from benchmark.report.tracks import tracking_context

STDERR_LINES = 20
NOTES_CHARS = 80  # notes in the schedules table; every note is listed below it
JOB_KEYS = ["dataset", "fold", "adapter", "seed"]


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


def _adapter_order(jobs: pd.DataFrame) -> list[str]:
    """Adapters with results by ascending median error, then adapters with none (by name)."""
    done = jobs[jobs["status"] == "done"]
    medians = {a: _mean(g, "median_px") for a, g in done.groupby("adapter")}
    ranked = sorted(medians, key=lambda a: (np.nan_to_num(medians[a], nan=np.inf), a))
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
    return png, caption


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
    order = _adapter_order(table) if len(table) else []
    done = table[table["status"] == "done"]
    keypoints = list(meta.keypoints) if meta is not None else []
    per_kp = results.metrics[
        (results.metrics["dataset"] == name) & (results.metrics["keypoint"] != "all")
    ]
    done_keys = set(map(tuple, done[JOB_KEYS].astype(str).to_numpy()))
    per_kp = _of_jobs(per_kp, done_keys)
    kp_means = per_kp.groupby(["adapter", "keypoint", "metric"])["value"].mean()
    for kp in dict.fromkeys(per_kp["keypoint"]):
        if kp not in keypoints:
            keypoints.append(kp)
    ranked = [
        a
        for a in order
        if a in set(done["adapter"])
        and not np.isnan(_mean(done[done["adapter"] == a], "median_px"))
    ]

    table_metrics = report_metrics(results.thresholds)
    accuracy, timing, summaries, schedules, full_schedules = [], [], [], [], []
    for adapter in order:
        mine = table[table["adapter"] == adapter]
        ok = mine[mine["status"] == "done"]
        n_failed = len(mine) - len(ok)
        m = {c: _mean(ok, c) for c in ok.columns if c not in ("job_id", "status", *JOB_KEYS)}
        get = m.get
        count = _job_count(len(ok), n_failed)
        ci = ""
        if not np.isnan(get("mean_px_ci95_low", np.nan)):
            ci = f" ({fmt_px(get('mean_px_ci95_low'))}–{fmt_px(get('mean_px_ci95_high'))})"
        cells = {m.name: fmt_metric(m, get(m.name)) for m in table_metrics}
        if not np.isnan(get("mean_px", np.nan)):
            cells["mean_px"] += ci
        accuracy.append([adapter, count, *(cells[m.name] for m in table_metrics)])
        records = [j for j in jobs if j.adapter == adapter and j.status == "done"]
        timing.append(
            [
                adapter,
                count,
                fmt_duration(get("train_s")),
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
        rank = (ranked.index(adapter) + 1, len(ranked)) if adapter in ranked else None
        summaries.append(
            (
                adapter,
                describe_adapter(adapter, m, detection, records, n_failed, rank),
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
                " / ".join(compact(n, NOTES_CHARS) for n in notes) or "—",
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
    errors = results.frame_errors[results.frame_errors["dataset"] == name]
    errors = _of_jobs(errors, done_keys)
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
    return {
        "name": name,
        "kind": kind,
        "facts": facts,
        "n_jobs": len(table),
        "n_done": len(done),
        "summaries": summaries,
        "accuracy": accuracy,
        "accuracy_header": ["adapter", "jobs", *metric_header(table_metrics)],
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
    first = next(j for j in results.jobs if j.status != "done")
    error = str(first.error or "").strip().splitlines()
    detail = f"; {first.job_id}: {error[0][:120]}" if error else ""
    return (
        f"no finished jobs: {_status_words(statuses)} "
        f"(see {results.run_dir / 'jobs' / '*' / 'job.json'}){detail}"
    )


def _failed(results: RunResults) -> list[dict]:
    """Failed or unfinished jobs with their error and the end of their stderr."""
    out = []
    for job in results.jobs:
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
    jobs_df = job_table(results)
    all_adapters = sorted({j.adapter for j in results.jobs})
    colors = figures.adapter_colors(all_adapters)
    datasets = [
        _dataset_context(results, name, jobs_df, colors, fig_dir, quote(out.stem))
        for name in results.dataset_names()
    ]
    context = {
        "name": results.name,
        "created": results.run.created,
        "hardware": _host_words(results.run.host),
        "n_jobs": len(results.jobs),
        "job_counts": _status_words(statuses),
        "datasets": datasets,
        "failed": _failed(results),
        "skipped_datasets": sorted(results.run.skipped_datasets.items()),
        "provenance": _provenance(results),
        "tracking": tracking_context(
            Path(run_dir), fig_dir, quote(out.stem), colors, results.thresholds
        ),
    }
    atomic_write_text(out, _template().render(**context))
    return out
