"""Seaborn figures of a run's stored errors and timings, saved as PNG.

Figures are built on ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state), so rendering
works without a display and leaves no global style behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

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
    """Write ``fig`` to ``out`` atomically (no timestamp in the PNG, so output is stable)."""
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return out


def error_ecdf(
    errors: pd.DataFrame, adapters: Sequence[str], colors: dict, out: Path
) -> Path | None:
    """Share of labelled keypoints within x px of the ground truth, per adapter.

    ``errors`` holds ``adapter`` and ``error_px`` (NaN = not detected) for every labelled test
    keypoint of one dataset, pooled over folds and seeds. Misses never count as within x, so
    a curve levels off at the adapter's detection rate. Returns None when there is nothing
    to plot.
    """
    errors = errors[errors["adapter"].isin(adapters)]
    found = errors["error_px"].dropna()
    if found.empty:
        return None
    # Show the whole range unless a few wild errors would squash the curves.
    xmax = min(float(found.max()), 3 * float(np.percentile(found, 99))) * 1.05 or 1.0
    with _style():
        fig = Figure(figsize=(6.4, 3.8))
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
        ax.set(
            xlim=(0, xmax),
            ylim=(0, 1.01),
            xlabel="error (px)",
            ylabel="share of labelled keypoints",
            title="Error distribution (ECDF; misses never count)",
        )
        ax.legend(loc="lower right", frameon=True)
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
        fig = Figure(figsize=(max(6.4, 0.9 * len(order) * max(len(hue_order), 2) / 2), 3.8))
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
        ax.tick_params(axis="x", labelrotation=30 if len(order) > 6 else 0)
        ax.legend(title=None, frameon=True)
        return save_png(fig, out)


def accuracy_vs_time(
    jobs: pd.DataFrame, adapters: Sequence[str], colors: dict, out: Path
) -> Path | None:
    """Median error against training wall time, one point per finished job."""
    if not {"train_s", "median_px"} <= set(jobs.columns):
        return None
    data = jobs[jobs["adapter"].isin(adapters)].dropna(subset=["train_s", "median_px"])
    if data.empty:
        return None
    data = data.assign(train_min=data["train_s"] / 60)
    hue_order = [a for a in adapters if a in set(data["adapter"])]
    with _style():
        fig = Figure(figsize=(6.4, 3.8))
        ax = fig.add_subplot()
        sns.scatterplot(
            data=data,
            x="train_min",
            y="median_px",
            hue="adapter",
            hue_order=hue_order,
            palette=colors,
            s=90,
            edgecolor="black",
            linewidth=0.5,
            ax=ax,
        )
        lo, hi = data["train_min"].min(), data["train_min"].max()
        if lo > 0 and hi / lo > 20:
            ax.set_xscale("log")
        for name, group in data.groupby("adapter", sort=False):
            ax.annotate(
                name,
                (group["train_min"].mean(), group["median_px"].mean()),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=8,
            )
        ax.set(
            xlabel="training time (min, wall clock)",
            ylabel="median error (px)",
            title="Accuracy vs training time (one point per job)",
        )
        ax.set_ylim(bottom=0)
        ax.legend(title=None, frameon=True)
        return save_png(fig, out)
