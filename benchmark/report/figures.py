"""Seaborn figures of a run's stored errors and timings, saved as PNG.

Figures are built on ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state), so rendering
works without a display and leaves no global style behind.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, ScalarFormatter
from matplotlib.transforms import Bbox

from benchmark.paths import atomic_path

DPI = 110


def adapter_colors(adapters: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per adapter, the same in every figure of a report."""
    palette = sns.color_palette("colorblind", max(len(adapters), 1))
    return {name: palette[i % len(palette)] for i, name in enumerate(adapters)}


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        yield


def save_png(fig: Figure, out: Path) -> Path:
    """Write ``fig`` to ``out`` atomically as a 256-colour PNG (no timestamp, so output is
    stable). The palette keeps overlay grids of photographic frames under a few MB (the
    rabbit's: 2.4 MB in full RGBA, 0.8 MB with the palette) and loses nothing visible."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(
            256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    with atomic_path(out) as tmp:
        palette.save(tmp, format="PNG", optimize=True)
    return out


def _new_figure(width: float = 6.4, height: float = 3.8) -> Figure:
    """An empty figure with constrained layout (labels, legends and titles never collide)."""
    return Figure(figsize=(width, height), layout="constrained")


def _one_two_five(axis: Axis, lo: float, hi: float, zero: bool = False) -> None:
    """Ticks at 1, 2, 5, 10, 20, 50, ... between ``lo`` and ``hi`` (and 0), plainly labelled.

    For log and symlog axes, whose default labels (``10^1``) are hard to read for pixels.
    """
    series = [m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5)]
    ticks = [0.0] * zero + [t for t in series if lo <= t <= hi]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def error_ecdf(
    errors: pd.DataFrame, adapters: Sequence[str], colors: dict, out: Path
) -> Path | None:
    """Share of labelled keypoints within x px of the ground truth, per adapter.

    ``errors`` holds ``adapter`` and ``error_px`` (NaN = not detected) for every labelled test
    keypoint of one dataset, pooled over folds and seeds. Misses never count as within x, so
    a curve levels off at the adapter's detection rate. The x axis is logarithmic past 1 px
    when the errors span a wide range. Returns None when there is nothing to plot.
    """
    errors = errors[errors["adapter"].isin(adapters)]
    found = errors["error_px"].dropna()
    if found.empty:
        return None
    # Show the whole range unless a few wild errors would squash the curves.
    xmax = min(float(found.max()), 3 * float(np.percentile(found, 99))) * 1.05 or 1.0
    medians = errors.dropna(subset=["error_px"]).groupby("adapter")["error_px"].median()
    wide = xmax > 20 * max(float(medians.min()), 0.5)
    with _style():
        fig = _new_figure()
        ax = fig.add_subplot()
        for name in adapters:
            err = errors.loc[errors["adapter"] == name, "error_px"].to_numpy(dtype=float)
            if len(err) == 0:
                continue
            hit = np.sort(err[~np.isnan(err)])
            share = np.arange(1, len(hit) + 1) / len(err)
            x = np.concatenate([[0.0], hit, [max(xmax, hit[-1] if len(hit) else 0.0)]])
            y = np.concatenate([[0.0], share, [share[-1] if len(share) else 0.0]])
            ax.step(x, y, where="post", color=colors[name], lw=2, label=name)
        for t in (5, 10):
            if t < xmax:
                ax.axvline(t, color="0.5", lw=0.8, ls=":")
        if wide:
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
            _one_two_five(ax.xaxis, 1.0, xmax, zero=True)
        ax.set(
            xlim=(0, xmax),
            ylim=(0, 1.02),
            xlabel="error (px)" + (", log scale past 1 px" if wide else ""),
            ylabel="share of labelled keypoints",
            title="Error distribution (ECDF; misses never count)",
        )
        # Beside the axes, so it never hides a curve.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        return save_png(fig, out)


def keypoint_errors(
    errors: pd.DataFrame, keypoints: Sequence[str], adapters: Sequence[str], colors: dict, out: Path
) -> Path | None:
    """Mean error per keypoint and adapter with 95% bootstrap intervals (detected points only)."""
    found = errors[errors["adapter"].isin(adapters)].dropna(subset=["error_px"])
    if found.empty:
        return None
    order = [k for k in keypoints if k in set(found["keypoint"])] or sorted(set(found["keypoint"]))
    hue_order = [a for a in adapters if a in set(found["adapter"])]
    with _style():
        bars = len(order) * max(len(hue_order), 2)
        fig = _new_figure(min(max(6.4, 0.22 * bars + 2.0), 12.0), 3.8)
        ax = fig.add_subplot()
        sns.barplot(
            data=found,
            x="keypoint",
            y="error_px",
            hue="adapter",
            order=order,
            hue_order=hue_order,
            palette=colors,
            errorbar=("ci", 95),
            n_boot=500,
            seed=0,
            capsize=0.1,
            err_kws={"linewidth": 1},
            ax=ax,
        )
        ax.set(xlabel="", ylabel="mean error (px)", title="Error per keypoint (95% CI)")
        ax.set_ylim(bottom=0)
        if len(order) > 6:
            ax.tick_params(axis="x", labelrotation=30)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        # Beside the axes, so it never hides a bar.
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title=None, frameon=False)
        return save_png(fig, out)


#: Where a point's label may go, tried in order: (dx, dy) in points, ha, va.
LABEL_SPOTS = (
    (7, 5, "left", "bottom"),
    (7, -5, "left", "top"),
    (-7, 5, "right", "bottom"),
    (-7, -5, "right", "top"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
)
MARKER_AREA = 90  # scatter marker size, points squared


def _padded(lo: float, hi: float, log: bool, low: float, high: float) -> tuple[float, float]:
    """Axis limits around ``lo .. hi`` with ``low`` / ``high`` of the span added (log-aware)."""
    if log:
        a, b = np.log10(lo), np.log10(hi)
        span = (b - a) or 1.0
        return float(10 ** (a - low * span)), float(10 ** (b + high * span))
    span = (hi - lo) or max(abs(hi), 1.0)
    return lo - low * span, hi + high * span


def _place_labels(fig: Figure, ax: Axes, labels: list[tuple[str, float, float]]) -> None:
    """Annotate each ``(text, x, y)`` beside its point, inside the axes, clear of the others.

    Tries each of ``LABEL_SPOTS`` and keeps the first that stays inside the axes and covers
    no marker and no label placed before (else the one that breaks the fewest of these).
    """
    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # lay the figure out, so extents are final
    fig.set_layout_engine("none")  # and keep that layout: labels must not move the axes
    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    radius = np.sqrt(MARKER_AREA) / 2 * fig.dpi / 72 + 1
    marks = [
        Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
        for x, y in ax.transData.transform(
            np.concatenate([c.get_offsets() for c in ax.collections])
        )
    ]
    placed: list[Bbox] = []
    for text, x, y in labels:
        best = None
        for dx, dy, ha, va in LABEL_SPOTS:
            note = ax.annotate(
                text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=8
            )
            box = note.get_window_extent(renderer)
            outside = not (
                frame.x0 <= box.x0
                and box.x1 <= frame.x1
                and frame.y0 <= box.y0
                and box.y1 <= frame.y1
            )
            cost = 100 * outside + sum(box.overlaps(b) for b in placed + marks)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, note, box)
            else:
                note.remove()
            if cost == 0:
                break
        assert best is not None
        placed.append(best[2])


def accuracy_vs_time_figure(
    jobs: pd.DataFrame, adapters: Sequence[str], colors: dict
) -> Figure | None:
    """Median error against training wall time, one point per finished job, each adapter named.

    Axes are logarithmic where the values span more than ``20x``. Every marker lies inside
    the axes, and each adapter's name beside its points, inside the axes where it fits.
    Returns None when no job has both numbers.
    """
    if not {"train_s", "median_px"} <= set(jobs.columns):
        return None
    data = jobs[jobs["adapter"].isin(adapters)].dropna(subset=["train_s", "median_px"])
    if data.empty:
        return None
    data = data.assign(train_min=data["train_s"] / 60)
    hue_order = [a for a in adapters if a in set(data["adapter"])]
    x, y = data["train_min"], data["median_px"]
    log_x = x.min() > 0 and x.max() / x.min() > 20
    log_y = y.min() > 0 and y.max() / y.min() > 20
    with _style():
        fig = _new_figure()
        ax = fig.add_subplot()
        sns.scatterplot(
            data=data,
            x="train_min",
            y="median_px",
            hue="adapter",
            hue_order=hue_order,
            palette=colors,
            s=MARKER_AREA,
            edgecolor="black",
            linewidth=0.5,
            legend=False,  # each adapter is named beside its points
            ax=ax,
        )
        if log_x:
            ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        # Room for the markers and for a label beside the outermost ones.
        left, right = _padded(float(x.min()), float(x.max()), log_x, 0.12, 0.12)
        bottom, top = _padded(float(y.min()), float(y.max()), log_y, 0.12, 0.18)
        ax.set_xlim(left, right)
        ax.set_ylim(bottom if log_y else 0.0, top)
        if log_x:
            _one_two_five(ax.xaxis, left, right)
        if log_y:
            _one_two_five(ax.yaxis, bottom, top)
        ax.set(
            xlabel="training time (min, wall clock" + (", log scale)" if log_x else ")"),
            ylabel="median error (px" + (", log scale)" if log_y else ")"),
            title="Accuracy vs training time (one point per job)",
        )
        labels = [
            (str(name), float(g["train_min"].median()), float(g["median_px"].median()))
            for name, g in data.groupby("adapter", sort=False)
        ]
        _place_labels(fig, ax, labels)
    return fig


def accuracy_vs_time(
    jobs: pd.DataFrame, adapters: Sequence[str], colors: dict, out: Path
) -> Path | None:
    """Save :func:`accuracy_vs_time_figure` to ``out``; None when there is nothing to plot."""
    fig = accuracy_vs_time_figure(jobs, adapters, colors)
    if fig is None:
        return None
    with _style():
        return save_png(fig, out)


#: Curve metrics the learning-curve figure plots, with their axis labels.
CURVE_PANELS = (
    ("mean_px_all", "mean error, every keypoint (px)"),
    ("median_px", "median error (px)"),
)


def _job_series(data: pd.DataFrame, metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each job's ``(train_s, value)`` points of ``metric``, in training order."""
    series = []
    rows = data[data["metric"] == metric].dropna(subset=["train_s", "value"])
    for _, job in rows.groupby(["fold", "seed"], sort=True):
        job = job.sort_values("train_s", kind="stable")
        series.append((job["train_s"].to_numpy(float), job["value"].to_numpy(float)))
    return series


def _band(series: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """Mean, min and max over jobs on the union of their times.

    Each job is interpolated between its points and keeps its final model's value after its
    training ended (that model's error does not change); before a job's first point it has
    none. The mean is drawn only where every job has a value, unless that is nowhere.
    """
    grid = np.unique(np.concatenate([t for t, _ in series]))
    values = np.full((len(series), len(grid)), np.nan)
    for i, (t, v) in enumerate(series):
        inside = grid >= t[0]
        values[i, inside] = np.interp(grid[inside], t, v)  # constant past its last point
    every = np.isfinite(values).all(axis=0)
    mean = np.nanmean(values, axis=0)
    if every.any():
        mean[~every] = np.nan
    return grid, mean, np.nanmin(values, axis=0), np.nanmax(values, axis=0)


def _log_ticks(axis: Axis, lo: float, hi: float) -> None:
    """1-2-5 ticks over up to three decades, powers of ten over more (labels never crowd)."""
    if hi / lo <= 1000:
        _one_two_five(axis, lo, hi)
        return
    ticks = [10.0**e for e in range(-9, 10) if lo <= 10.0**e <= hi]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def learning_curves_figure(
    curves: pd.DataFrame, adapters: Sequence[str], colors: dict, budget_s: float | None = None
) -> Figure | None:
    """Test error against training time, one line per adapter (mean over its jobs) with a
    band from the lowest to the highest job and each job's own points; one panel per
    metric of :data:`CURVE_PANELS`.

    ``curves`` holds one dataset's ``curves.csv`` rows. Axes are logarithmic where the
    values span more than ``20x``; a dotted line marks the budget. Returns None when no
    adapter has a curve point.
    """
    data = curves[curves["adapter"].isin(adapters)]
    panels = [(m, label) for m, label in CURVE_PANELS if _job_series(data, m)]
    if not panels:
        return None
    with _style():
        fig = _new_figure(4.6 * len(panels) + 1.6, 3.8)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (metric, label) in zip(axes, panels, strict=True):
            times, values = [], []
            for name in adapters:
                series = _job_series(data[data["adapter"] == name], metric)
                if not series:
                    continue
                grid, mean, low, high = _band(series)
                ax.plot(grid, mean, color=colors[name], lw=2, label=name)
                if len(series) > 1:
                    ax.fill_between(grid, low, high, color=colors[name], alpha=0.2, lw=0)
                for t, v in series:  # each job's own points: the snapshots, then the final
                    ax.scatter(t, v, color=colors[name], s=12, alpha=0.8, lw=0)
                times += list(grid)
                values += [v for v in (*low, *high) if np.isfinite(v)]
            if budget_s:
                ax.axvline(budget_s, color="0.4", lw=1, ls=":")
                times.append(budget_s)
            t, v = np.array(times), np.array(values)
            log_x = t.min() > 0 and t.max() / t.min() > 20
            log_y = v.min() > 0 and v.max() / v.min() > 20
            if log_x:
                ax.set_xscale("log")
                left, right = _padded(float(t.min()), float(t.max()), True, 0.05, 0.05)
                ax.set_xlim(left, right)
                _log_ticks(ax.xaxis, left, right)
            if log_y:
                ax.set_yscale("log")
                bottom, top = _padded(float(v.min()), float(v.max()), True, 0.05, 0.05)
                ax.set_ylim(bottom, top)
                _log_ticks(ax.yaxis, bottom, top)
            else:
                ax.set_ylim(bottom=0)
            ax.set(
                xlabel="training time (s" + (", log scale)" if log_x else ")"),
                ylabel=label.replace("(px)", "(px, log scale)") if log_y else label,
            )
        title = "Learning curves: test error against training time"
        fig.suptitle(title + (" (dotted: the budget)" if budget_s else ""))
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def learning_curves(
    curves: pd.DataFrame,
    adapters: Sequence[str],
    colors: dict,
    out: Path,
    budget_s: float | None = None,
) -> Path | None:
    """Save :func:`learning_curves_figure` to ``out``; None when there is nothing to plot."""
    fig = learning_curves_figure(curves, adapters, colors, budget_s)
    if fig is None:
        return None
    with _style():
        return save_png(fig, out)


def label_efficiency_figure(stats: pd.DataFrame, colors: dict, metric_name: str, out: Path) -> Path:
    """Test error against labelled training frames, one line per adapter (mean over its
    folds and seeds) with a band from the lowest to the highest job; log-scaled frames.

    ``stats`` has one row per adapter and size: ``adapter``, ``frames`` (mean training
    frames), ``mean``, ``lo``, ``hi``.
    """
    with _style():
        fig = _new_figure(6.4, 3.8)
        ax = fig.subplots()
        for name in sorted(stats["adapter"].unique()):
            part = stats[stats["adapter"] == name].sort_values("frames")
            color = colors.get(name, (0.3, 0.3, 0.3))
            ax.plot(part["frames"], part["mean"], color=color, lw=2, marker="o", ms=4, label=name)
            ax.fill_between(part["frames"], part["lo"], part["hi"], color=color, alpha=0.2, lw=0)
        frames = stats["frames"].to_numpy(dtype=float)
        ax.set_xscale("log")
        ax.set_xticks(sorted(set(np.round(frames))))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.set(xlabel="labelled training frames (log scale)", ylabel=metric_name)
        fig.suptitle("Label efficiency: test error against labelled training frames")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        return save_png(fig, out)


def sweep_figure(
    errors: dict[int, dict[str, list[float | None]]],
    chosen: dict[int, str | None],
    metric_name: str,
    title: str,
    out: Path,
) -> Path:
    """Inner-fold error of each sweep point, per outer fold: a dot per inner job, a bar at
    their mean, the chosen point's bar outlined.

    ``errors`` maps outer fold -> point label -> inner-fold errors (None: not finished);
    ``chosen`` maps outer fold -> the point it chose.
    """
    folds = sorted(errors)
    points = list(errors[folds[0]])
    with _style():
        fig = _new_figure(6.4, 0.9 + 0.45 * len(points) * len(folds))
        ax = fig.subplots()
        palette = sns.color_palette("colorblind", len(folds))
        height = 0.8 / len(folds)
        for k, fold in enumerate(folds):
            color = palette[k]
            for i, point in enumerate(points):
                values = [v for v in errors[fold][point] if v is not None and np.isfinite(v)]
                y = i + (k - (len(folds) - 1) / 2) * height
                if values:
                    is_chosen = chosen.get(fold) == point
                    ax.barh(
                        y, float(np.mean(values)), height=height * 0.9, color=color, alpha=0.35,
                        edgecolor="black" if is_chosen else "none", lw=1.5,
                        label=f"outer fold {fold}" if i == 0 else None,
                    )  # fmt: skip
                    ax.plot(values, [y] * len(values), "o", color=color, ms=4)
        ax.set_yticks(range(len(points)), points)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set(xlabel=f"inner-fold {metric_name}")
        fig.suptitle(title)
        if len(folds) > 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        return save_png(fig, out)
