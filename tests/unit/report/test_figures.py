"""The report's seaborn figures: everything plotted lies inside its axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image

from benchmark.report import figures

ADAPTERS = ["heatmap", "sleap", "trackrat", "deepposekit", "deeplabcut"]

#: Median error and training minutes as in reports/default.md (synthetic rat, mouse), where
#: the top point's label ran into the title; and a spread that needs log axes.
CASES = {
    "rat": ([1.4, 2.4, 1.2, 1.05, 7.8], [1.3, 4.1, 12.2, 17.9, 28.2]),
    "mouse": ([2.2, 3.9, 1.7, 1.3, 11.7], [2.9, 8.7, 51.6, 7.0, 74.0]),
    "wide": ([0.5, 3.0, 0.4, 20.0, 95.0], [0.8, 3.0, 9.0, 40.0, 120.0]),
}


def _jobs(minutes: list[float], median_px: list[float], folds: int = 2) -> pd.DataFrame:
    """One row per job: every adapter x ``folds``, the folds a little apart."""
    rows = [
        {"adapter": a, "train_s": 60 * m * (1 + 0.1 * f), "median_px": e * (1 + 0.08 * f)}
        for a, m, e in zip(ADAPTERS, minutes, median_px, strict=True)
        for f in range(folds)
    ]
    return pd.DataFrame(rows)


def _inside(inner: Bbox, outer: Bbox) -> bool:
    return (
        outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0
        and inner.y1 <= outer.y1
    )  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_accuracy_vs_time_keeps_every_point_and_label_inside_the_axes(case: str) -> None:
    jobs = _jobs(*CASES[case])
    fig = figures.accuracy_vs_time_figure(jobs, ADAPTERS, figures.adapter_colors(ADAPTERS))
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    frame = ax.get_window_extent(renderer)

    # Every job is plotted, and its whole marker lies inside the axes limits.
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(jobs)
    np.testing.assert_allclose(
        np.sort(points[:, 0]), np.sort(jobs["train_s"].to_numpy() / 60), rtol=1e-9
    )
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert (x0 < points[:, 0]).all() and (points[:, 0] < x1).all()
    assert (y0 < points[:, 1]).all() and (points[:, 1] < y1).all()
    radius = np.sqrt(figures.MARKER_AREA) / 2 * fig.dpi / 72
    for x, y in ax.transData.transform(points):
        assert _inside(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius), frame)

    # One label per adapter, inside the axes, clear of the other labels and of the title.
    labels = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    assert sorted(labels) == sorted(ADAPTERS)
    boxes = list(labels.values())
    for i, box in enumerate(boxes):
        assert _inside(box, frame), (case, list(labels)[i])
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
        assert not box.overlaps(ax.title.get_window_extent(renderer))


def test_accuracy_vs_time_uses_log_axes_only_for_a_wide_spread() -> None:
    colors = figures.adapter_colors(ADAPTERS)
    wide = figures.accuracy_vs_time_figure(_jobs(*CASES["wide"]), ADAPTERS, colors)
    narrow = figures.accuracy_vs_time_figure(
        _jobs([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]), ADAPTERS, colors
    )
    assert wide is not None and narrow is not None
    assert (wide.axes[0].get_xscale(), wide.axes[0].get_yscale()) == ("log", "log")
    assert (narrow.axes[0].get_xscale(), narrow.axes[0].get_yscale()) == ("linear", "linear")
    assert narrow.axes[0].get_ylim()[0] == 0  # a linear error axis starts at 0 px


def test_accuracy_vs_time_saves_a_png_or_nothing(tmp_path: Path) -> None:
    colors = figures.adapter_colors(ADAPTERS)
    out = figures.accuracy_vs_time(_jobs(*CASES["rat"]), ADAPTERS, colors, tmp_path / "t.png")
    assert out == tmp_path / "t.png"
    with Image.open(out) as im:
        assert min(im.size) > 300
    empty = pd.DataFrame({"adapter": ["heatmap"], "train_s": [np.nan], "median_px": [1.0]})
    assert figures.accuracy_vs_time(empty, ADAPTERS, colors, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def _curves(jobs: dict[str, list[list[tuple[float, float]]]]) -> pd.DataFrame:
    """curves.csv rows: adapter -> one list of (train_s, error) per job (fold), for both
    curve metrics (the median 0.8 of the mean)."""
    rows = []
    for adapter, series in jobs.items():
        for fold, points in enumerate(series):
            for i, (t, e) in enumerate(points):
                for metric, value in (("mean_px_all", e), ("median_px", 0.8 * e)):
                    rows.append(
                        {
                            "adapter": adapter,
                            "fold": fold,
                            "seed": 0,
                            "epoch": i + 1,
                            "train_s": t,
                            "final": i == len(points) - 1,
                            "metric": metric,
                            "value": value,
                        }
                    )
    return pd.DataFrame(rows)


def test_learning_curves_draw_a_line_per_adapter_with_a_band_over_its_jobs() -> None:
    jobs = {
        "sleap": [[(5, 40.0), (20, 10.0), (60, 4.0)], [(6, 50.0), (25, 12.0), (61, 5.0)]],
        "heatmap": [[(3, 30.0), (30, 3.0), (58, 2.0)]],  # one job: no band
    }
    colors = figures.adapter_colors(ADAPTERS)
    fig = figures.learning_curves_figure(_curves(jobs), ADAPTERS, colors, budget_s=60.0)
    assert fig is not None
    mean_ax, median_ax = fig.axes[:2]
    for ax in (mean_ax, median_ax):
        lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
        assert sorted(lines) == ["heatmap", "sleap"]
        kinds = [type(c).__name__ for c in ax.collections]
        assert kinds.count("FillBetweenPolyCollection") == 1  # sleap's band only
        # Every job's own points are drawn: 3 + 3 for sleap, 3 for heatmap.
        points = [c.get_offsets() for c in ax.collections if type(c).__name__ == "PathCollection"]
        assert sum(len(p) for p in points) == 9
        # The budget is marked; the times span 20x: a log time axis.
        assert any(list(ln.get_xdata()) == [60.0, 60.0] for ln in ax.get_lines())
        assert ax.get_xscale() == "log"
    # sleap's line is the mean of its two jobs where both have a value.
    x, y = lines["sleap"].get_data()
    ok = np.isfinite(y)
    assert x[ok][0] == 6 and x[ok][-1] == 61
    assert y[ok][-1] == pytest.approx(0.8 * (4.0 + 5.0) / 2)  # median panel; job 0 stays at 4
    assert mean_ax.get_ylabel().startswith("mean error")


def test_learning_curves_save_a_png_or_nothing(tmp_path: Path) -> None:
    colors = figures.adapter_colors(ADAPTERS)
    curves = _curves({"sleap": [[(5, 40.0), (60, 4.0)]]})
    out = figures.learning_curves(curves, ADAPTERS, colors, tmp_path / "c.png")
    assert out == tmp_path / "c.png"
    with Image.open(out) as im:
        assert min(im.size) > 300
    empty = curves.iloc[0:0]
    assert figures.learning_curves(empty, ADAPTERS, colors, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
