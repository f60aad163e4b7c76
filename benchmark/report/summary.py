"""Numbers as report text: table cell formats and the one-line summary per framework."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from benchmark.metrics import Metric, accuracy_metrics
from benchmark.records import JobRecord

EPOCH_KEYS = ("epochs", "max_epochs", "n_epochs", "num_epochs")
#: Options named in a schedule's one-line summary (the report lists every option below it).
SUMMARY_KEYS = (
    "net_type",
    "backbone",
    "model",
    "model_type",
    *EPOCH_KEYS,
    "batch_size",
    "lr",
    "learning_rate",
)
#: A note that an adapter writes as one line for the schedules table, and the notes it sums
#: up: what the framework recommended from the data and what the run config overrode.
HEADLINE_NOTE = "recommendation"
HEADLINE_DETAILS = ("recommended", "overridden")
MISS_NOTE = 0.10  # mention a keypoint in words when it is missed this often
MISS_FLAG = 0.50  # flag a keypoint in tables when it is detected less often than this


def _ok(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def fmt_px(value: float | None) -> str:
    """Pixels with two decimals; ``—`` when missing."""
    return f"{value:.2f}" if _ok(value) else "—"


def fmt_pct(value: float | None) -> str:
    """A share in ``[0, 1]`` as a percentage with one decimal."""
    return f"{100 * value:.1f}%" if _ok(value) else "—"


def fmt_duration(seconds: float | None) -> str:
    """Seconds as ``45 s``, ``3.1 min`` or ``2.40 h``."""
    if not _ok(seconds):
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def fmt_signed_px(value: float | None) -> str:
    """A difference in pixels with its sign: ``+0.12``, ``-1.30``; ``—`` when missing."""
    return f"{value:+.2f}" if _ok(value) else "—"


def fmt_interval(low: float | None, high: float | None, signed: bool = False) -> str:
    """An interval as ``1.10–1.74`` (``-0.30 to +0.55`` when ``signed``); ``—`` when
    either end is missing."""
    if not (_ok(low) and _ok(high)):
        return "—"
    if signed:
        return f"{fmt_signed_px(low)} to {fmt_signed_px(high)}"
    return f"{fmt_px(low)}–{fmt_px(high)}"


def fmt_rate(value: float | None) -> str:
    """Frames per second: one decimal below 100, none above."""
    if not _ok(value):
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def fmt_mb(value: float | None) -> str:
    """Megabytes."""
    if not _ok(value):
        return "—"
    return f"{value:.1f} MB" if value < 100 else f"{value:.0f} MB"


def fmt_count(value: float | None) -> str:
    """A parameter count as ``812``, ``45.6 k`` or ``1.23 M``."""
    if not _ok(value):
        return "—"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def md_cell(value: object) -> str:
    """Text safe inside a markdown table cell (no pipes, no line breaks)."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table; cells are made safe with :func:`md_cell`."""
    lines = ["| " + " | ".join(map(md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(md_cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def options(mapping: Mapping | None) -> list[tuple[str, object]]:
    """A nested mapping's leaves as ``(dotted.key, value)`` pairs, in the mapping's order."""
    items: list[tuple[str, object]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, Mapping) and value:
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            items.append((prefix, value))

    walk("", mapping or {})
    return items


def compact(mapping: Mapping | None, limit: int | None = 160) -> str:
    """A nested mapping as ``key=value, section.key=value`` (shortened past ``limit`` chars).

    ``limit=None`` never shortens.
    """
    if not mapping:
        return "—"
    text = ", ".join(f"{key}={value}" for key, value in options(mapping))
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def notes_summary(notes: Mapping | None, limit: int) -> str:
    """An adapter's notes for a table cell: its ``recommendation`` line in full, then the
    other notes (less the ``recommended`` and ``overridden`` it sums up) shortened to
    ``limit`` chars."""
    notes = notes or {}
    if HEADLINE_NOTE not in notes:
        return compact(notes, limit)
    skip = (HEADLINE_NOTE, *HEADLINE_DETAILS)
    rest = {key: value for key, value in notes.items() if key not in skip}
    return str(notes[HEADLINE_NOTE]) + (f"; {compact(rest, limit)}" if rest else "")


def schedule_summary(config: Mapping | None, limit: int = 70) -> str:
    """The few options that tell schedules apart (model, epochs, batch size, learning rate).

    E.g. ``net_type=resnet_50, epochs=4, batch_size=8 (+14 more)``; the first options
    (shortened to ``limit`` chars) when none of the summary keys is set.
    """
    items = options(config)
    if not items:
        return "—"
    picked = [(k, v) for k, v in items if k.rsplit(".", 1)[-1] in SUMMARY_KEYS]
    if not picked:
        return compact(config, limit)
    text = ", ".join(f"{key}={value}" for key, value in picked)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    rest = len(items) - len(picked)
    return text + (f" (+{rest} more)" if rest else "")


def find_epochs(config: Mapping | None) -> int | None:
    """The number of training epochs named anywhere in an adapter config, if any."""
    if not isinstance(config, Mapping):
        return None
    for key in EPOCH_KEYS:
        value = config.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    for value in config.values():
        found = find_epochs(value) if isinstance(value, Mapping) else None
        if found is not None:
            return found
    return None


def device_words(records: Iterable[JobRecord]) -> str:
    """Where jobs ran, in words: the GPU's name, or ``2 CPU threads``.

    A job counts as on the GPU when its worker saw CUDA and its adapter config does not ask
    for the CPU (``device: cpu``).
    """
    records = list(records)
    gpus = sorted(
        {
            str(env["gpu"])
            for r in records
            if (env := r.environment).get("cuda")
            and env.get("gpu")
            and not str(r.adapter_config.get("device", "")).startswith("cpu")
        }
    )
    if gpus:
        return ", ".join(gpus)
    threads = sorted({r.timing.threads for r in records if r.timing and _ok(r.timing.threads)})
    if threads:
        label = "/".join(str(t) for t in threads)
        return f"{label} CPU thread{'s' if threads[-1] > 1 else ''}"
    return "CPU"


def _span(values: Iterable[int]) -> str:
    """``4`` or ``22–24`` (the range of some counts)."""
    found = sorted(set(values))
    if not found:
        return "?"
    return f"{found[0]}" if len(found) == 1 else f"{found[0]}–{found[-1]}"


def epochs_words(records: Iterable[JobRecord]) -> str:
    """Epochs done of planned over jobs: ``22–24 / 200``; ``—`` when not recorded."""
    infos = [r.training for r in records if r.training is not None]
    if not infos:
        return "—"
    planned = _span(t.epochs_planned for t in infos if t.epochs_planned is not None)
    return f"{_span(t.epochs_done for t in infos)} / {planned}"


def ending_words(records: Iterable[JobRecord]) -> str:
    """How the jobs' training ended: ``stopped by budget``, ``finished its schedule``, or
    both with counts (``stopped by budget in 1 of 2 jobs; finished its schedule in 1``);
    ``not recorded`` for jobs from before budgets."""
    infos = [r.training for r in records if r.training is not None]
    if not infos:
        return "not recorded"
    stopped = sum(t.stopped_by_budget for t in infos)
    if stopped == len(infos):
        return "stopped by budget"
    if not stopped:
        return "finished its schedule"
    return (
        f"stopped by budget in {stopped} of {len(infos)} jobs; "
        f"finished its schedule in {len(infos) - stopped}"
    )


def describe_adapter(
    adapter: str,
    overall: Mapping[str, float],
    keypoint_detection: Mapping[str, float],
    records: list[JobRecord],
    n_failed: int,
    standing: str | None = None,
) -> str:
    """One sentence on how a framework did on one dataset.

    Args:
        adapter: Adapter name.
        overall: Overall metrics averaged over the adapter's finished jobs (may be empty).
        keypoint_detection: Detection rate per keypoint (averaged over jobs).
        records: The adapter's finished jobs on this dataset.
        n_failed: Number of its jobs on this dataset that failed or did not finish.
        standing: Its place in the ranking by the ranking metric, in words (``best of 3``,
            ``not distinguishable from the best, heatmap``), if ranked.

    Returns:
        E.g. ``trained 22–24 of 200 planned epochs in 5.0 min on 2 CPU threads, stopped by
        budget; mean error over every keypoint 2.40 px (best of 3); median error 2.10 px;
        98.0% of keypoints detected; missed tail_tip in 60% of labelled frames``.
    """
    if not records:
        return f"no results ({n_failed} job{'s' if n_failed != 1 else ''} failed or skipped)"
    parts = []
    infos = [r.training for r in records if r.training is not None]
    train = "trained"
    if infos:
        done = _span(t.epochs_done for t in infos)
        planned = [t.epochs_planned for t in infos if t.epochs_planned is not None]
        train += f" {done} of {_span(planned)} planned epochs" if planned else f" {done} epochs"
    else:
        epochs = {find_epochs(r.adapter_config) for r in records} - {None}
        if len(epochs) == 1:
            n = epochs.pop()
            train += f" {n} epoch{'s' if n != 1 else ''}"
    if _ok(overall.get("train_s")):
        train += f" in {fmt_duration(overall['train_s'])}"
    train += f" on {device_words(records)}"
    if infos:
        train += f", {ending_words(records)}"
    parts.append(train)
    if _ok(overall.get("mean_px_all")):
        mean = f"mean error over every keypoint {fmt_px(overall['mean_px_all'])} px"
        parts.append(mean + (f" ({standing})" if standing else ""))
    if _ok(overall.get("median_px")):
        parts.append(f"median error {fmt_px(overall['median_px'])} px")
    if _ok(overall.get("detection_rate")):
        parts.append(f"{fmt_pct(overall['detection_rate'])} of keypoints detected")
    missed = sorted(
        ((1 - rate, kp) for kp, rate in keypoint_detection.items() if _ok(rate)),
        key=lambda item: -item[0],
    )
    for miss, kp in missed[:2]:
        if miss >= MISS_NOTE:
            parts.append(f"missed {kp} in {100 * miss:.0f}% of labelled frames")
    if _ok(overall.get("predict_fps")):
        parts.append(f"predicts {fmt_rate(overall['predict_fps'])} frames/s")
    if n_failed:
        total = n_failed + len(records)
        parts.append(f"{n_failed} of {total} jobs failed")
    return "; ".join(parts)


def report_metrics(thresholds: Sequence[float]) -> list[Metric]:
    """The accuracy table's columns: every accuracy metric of the run but p95 (p90 shows
    the tail), with the run's PCK thresholds."""
    return [m for m in accuracy_metrics(thresholds) if m.name != "p95_px"]


def fmt_metric(metric: Metric, value: float | None) -> str:
    """A metric's value as its tables show it (px with two decimals, shares in percent)."""
    return fmt_px(value) if metric.unit == "px" else fmt_pct(value)


def metric_header(metrics: Sequence[Metric]) -> list[str]:
    """Column headers of ``metrics`` (the mean's with its confidence interval)."""
    return [f"{m.label} (95% CI)" if m.name == "mean_px" else m.label for m in metrics]
