"""Rankings with ties, curve points at fractions of the budget and the spread over folds,
checked on small tables computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.metrics import bootstrap_median_ci, ranks_with_ties
from benchmark.report.compare import (
    budget_points,
    budget_summary,
    fold_spread,
    leaders,
    rank_adapters,
    rank_groups,
)

KEYPOINTS = ("snout", "ear", "tail")


def _errors(adapter: str, values: np.ndarray, seed: int = 0, fold0_frames: int = 5) -> list[dict]:
    """Frame-error rows of one job per fold: ``values`` is ``(n_frames, k)``; the first
    ``fold0_frames`` frames are fold 0's test frames, the rest fold 1's."""
    rows = []
    for i, frame in enumerate(values):
        fold = 0 if i < fold0_frames else 1
        for kp, e in zip(KEYPOINTS, frame, strict=True):
            if np.isfinite(e):
                rows.append(
                    {
                        "adapter": adapter,
                        "fold": fold,
                        "seed": seed,
                        "frame_id": f"f{i:02d}",
                        "keypoint": kp,
                        "error_px": e,
                        "scored_px": e,
                    }
                )
    return rows


@pytest.fixture
def base() -> np.ndarray:
    """Errors of 10 test frames x 3 keypoints, one keypoint not labelled."""
    err = np.random.default_rng(0).gamma(2.0, 2.0, (10, 3))
    err[3, 1] = np.nan
    return err


def test_identical_adapters_are_tied_and_a_clearly_worse_one_is_not(base: np.ndarray) -> None:
    errors = pd.DataFrame(
        _errors("sleap", base) + _errors("deepposekit", base) + _errors("dlc", base + 5.0)
    )
    ranking = rank_adapters(errors)
    assert ranking is not None
    # Equal means: ordered by name; the twin is tied with the best, the worse one is not.
    assert ranking.adapters == ["deepposekit", "sleap", "dlc"]
    assert ranking.best == "deepposekit" and ranking.ties == ["sleap"]
    twin = ranking.pair("deepposekit", "sleap")
    assert (twin.difference, twin.low, twin.high) == (0.0, 0.0, 0.0)
    assert twin.tied and twin.verdict() == "not distinguishable"
    worse = ranking.pair("deepposekit", "dlc")
    assert worse.difference == pytest.approx(-5.0) and worse.high == pytest.approx(-5.0)
    assert not worse.tied and worse.verdict() == "deepposekit better"
    # Either order: the difference and the interval change sign.
    flipped = ranking.pair("dlc", "deepposekit")
    assert (flipped.difference, flipped.low, flipped.high) == pytest.approx((5.0, 5.0, 5.0))
    assert flipped.n_keypoints == int(np.isfinite(base).sum())
    assert ranking.ranks == {"deepposekit": 1, "sleap": 1, "dlc": 3}
    assert rank_groups(ranking) == [(1, ["deepposekit", "sleap"]), (3, ["dlc"])]


def test_seeds_are_averaged_per_keypoint_before_the_paired_difference(base: np.ndarray) -> None:
    """Adapter a's two seeds err by e and e + 2: averaged, a is exactly 1 px worse than b."""
    rows = _errors("a", base, seed=0) + _errors("a", base + 2.0, seed=1) + _errors("b", base)
    ranking = rank_adapters(pd.DataFrame(rows))
    assert ranking is not None
    pair = ranking.pair("a", "b")
    assert pair.difference == pytest.approx(1.0)
    assert (pair.low, pair.high) == pytest.approx((1.0, 1.0))
    assert ranking.best == "b" and ranking.ties == []
    assert ranking.mean["a"] == pytest.approx(np.nanmean(base) + 1.0)
    assert ranking.n_frames == {"a": 10, "b": 10}  # folds pooled: 5 + 5 test frames


def test_noisy_difference_has_an_interval_around_it(base: np.ndarray) -> None:
    noise = np.random.default_rng(1).normal(0.0, 1.0, base.shape)
    errors = pd.DataFrame(_errors("a", base) + _errors("b", base + 0.05 + noise))
    ranking = rank_adapters(errors)
    pair = ranking.pair("a", "b")
    used = np.isfinite(base)
    assert pair.difference == pytest.approx(-np.mean((0.05 + noise)[used]))
    assert pair.low < pair.difference < pair.high
    assert pair.tied  # 0.05 px against 1 px of noise on 29 keypoints


def test_given_means_rank_and_ranking_needs_scored_errors(base: np.ndarray) -> None:
    errors = pd.DataFrame(_errors("a", base) + _errors("b", base + 1.0))
    ranking = rank_adapters(errors, {"a": 9.0, "b": 3.0})
    assert ranking.adapters == ["b", "a"] and ranking.mean == {"a": 9.0, "b": 3.0}
    assert rank_adapters(errors.drop(columns="scored_px")) is None


def test_median_ci_contains_the_median_and_is_a_point_for_constant_errors(
    base: np.ndarray,
) -> None:
    low, high = bootstrap_median_ci(base, n_boot=500, seed=0)
    assert low <= np.nanmedian(base) <= high and low < high
    assert bootstrap_median_ci(np.full((6, 2), 3.0)) == [3.0, 3.0]
    assert bootstrap_median_ci(np.full((4, 2), np.nan)) == [None, None]


def test_rank_is_one_plus_the_adapters_better_beyond_doubt() -> None:
    """a ~ b and b ~ c, but a is better than c: a and b share rank 1, c is 2nd."""
    intervals = {("b", "a"): (-0.1, 1.0), ("c", "b"): (-0.2, 0.9), ("c", "a"): (0.3, 1.5)}

    def interval(x: str, y: str) -> tuple[float, float]:
        if (x, y) in intervals:
            return intervals[x, y]
        low, high = intervals[y, x]
        return -high, -low

    means = {"a": 1.0, "b": 1.4, "c": 2.0, "none": float("nan")}
    assert ranks_with_ties(means, interval) == {"a": 1, "b": 1, "c": 2}


def _curve(adapter: str, fold: int, points: list[tuple[int, float, float, float]]) -> list[dict]:
    """curves.csv rows: each point is (epoch, train_s, mean_px_all, median_px); the last is
    the final model."""
    rows = []
    for i, (epoch, t, mean_all, median) in enumerate(points):
        for metric, value in (("mean_px_all", mean_all), ("median_px", median)):
            rows.append(
                {
                    "dataset": "d",
                    "adapter": adapter,
                    "fold": fold,
                    "seed": 0,
                    "epoch": epoch,
                    "train_s": t,
                    "final": i == len(points) - 1,
                    "metric": metric,
                    "value": value,
                }
            )
    return rows


def test_budget_points_take_the_last_point_at_or_before_each_fraction() -> None:
    curves = pd.DataFrame(
        _curve("a", 0, [(1, 10.0, 40.0, 30.0), (3, 30.0, 20.0, 15.0), (9, 101.0, 5.0, 4.0)])
        + _curve("a", 1, [(1, 20.0, 50.0, 35.0), (2, 50.0, 10.0, 8.0), (8, 99.0, 6.0, 5.0)])
        + _curve("b", 0, [(4, 40.0, 8.0, 7.0)])  # finished its schedule early
    )
    points = budget_points(curves, budget_s=100.0).set_index(["adapter", "fold", "fraction"])
    assert points.loc[("a", 0, 0.25), "mean_px_all"] == 40.0  # at 10 s (30 s is later)
    assert points.loc[("a", 0, 0.5), "mean_px_all"] == 20.0
    assert points.loc[("a", 0, 1.0), "mean_px_all"] == 5.0  # the final model, at 101 s
    assert points.loc[("a", 1, 0.25), "median_px"] == 35.0
    assert points.loc[("a", 1, 0.5), "median_px"] == 8.0  # exactly at 50 s
    assert np.isnan(points.loc[("b", 0, 0.25), "mean_px_all"])  # nothing by 25 s
    assert points.loc[("b", 0, 0.5), "mean_px_all"] == 8.0  # its final model, at 40 s
    summary = budget_summary(points.reset_index()).set_index(["adapter", "fraction"])
    assert summary.loc[("a", 0.5), "mean_px_all"] == 15.0
    assert summary.loc[("b", 0.25), ["n_jobs", "of_jobs"]].tolist() == [0, 1]
    assert leaders(summary.reset_index(), 0.5) == ["b"]
    assert leaders(summary.reset_index(), 1.0) == ["a"]


def test_without_a_budget_each_jobs_final_time_is_100_percent() -> None:
    curves = pd.DataFrame(
        _curve("a", 0, [(1, 10.0, 40.0, 30.0), (2, 30.0, 20.0, 15.0), (4, 80.0, 5.0, 4.0)])
    )
    points = budget_points(curves, budget_s=None).set_index("fraction")
    assert points.loc[0.25, "at_s"] == 20.0 and points.loc[0.25, "mean_px_all"] == 40.0
    assert points.loc[0.5, "mean_px_all"] == 20.0  # at 40 s: the point at 30 s
    assert points.loc[1.0, "mean_px_all"] == 5.0


def test_leaders_with_equal_values_are_both_named() -> None:
    summary = pd.DataFrame(
        {"adapter": ["a", "b", "c"], "fraction": [1.0] * 3, "mean_px_all": [2.001, 2.004, 3.0]}
    )
    assert leaders(summary, 1.0) == ["a", "b"]


def test_fold_spread_averages_seeds_within_a_fold() -> None:
    overall = pd.DataFrame(
        {
            "adapter": ["a"] * 4 + ["b"],
            "fold": [0, 0, 1, 2, 0],
            "metric": ["mean_px_all"] * 5,
            "value": [1.0, 3.0, 4.0, 6.0, 5.0],
        }
    )
    spread = fold_spread(overall, "mean_px_all").set_index("adapter")
    assert spread.loc["a", "per_fold"] == {0: 2.0, 1: 4.0, 2: 6.0}
    assert spread.loc["a", ["n_folds", "mean", "min", "max"]].tolist() == [3, 4.0, 2.0, 6.0]
    assert spread.loc["b", "n_folds"] == 1


def test_still_improving_names_budget_stopped_adapters_whose_error_still_fell() -> None:
    """fast: stopped at the 10 s budget, 40 -> 10 px over its last quarter; flat: stopped
    too, but already converged; early: finished its schedule before the budget."""
    from benchmark.report.compare import still_improving

    def job(adapter, fold, last, final, final_s):
        return [
            [adapter, fold, 0, 3, 7.5, False, "mean_px_all", last],
            [adapter, fold, 0, 4, final_s, True, "mean_px_all", final],
        ]

    rows = [
        *job("fast", 0, 40.0, 10.0, 10.2),
        *job("fast", 1, 20.0, 10.0, 10.1),
        *job("flat", 0, 5.0, 4.9, 10.3),
        *job("early", 0, 40.0, 5.0, 6.0),
    ]
    columns = ["adapter", "fold", "seed", "epoch", "train_s", "final", "metric", "value"]
    curves = pd.DataFrame(rows, columns=columns)
    got = still_improving(curves, budget_s=10.0)
    assert list(got) == ["fast"] and got["fast"] == pytest.approx(1 - (0.25 + 0.5) / 2)
    assert still_improving(curves, budget_s=None) == {}


def _job_curve(adapter: str, values: list[float], fold: int = 0, seed: int = 0) -> list[dict]:
    """Curve rows of one job: ``values`` at 30 s, 60 s, ... (the last one the final model)."""
    return [
        {
            "adapter": adapter, "fold": fold, "seed": seed, "epoch": i + 1,
            "train_s": 30.0 * (i + 1), "final": i == len(values) - 1,
            "metric": "mean_px_all", "value": v,
        }
        for i, v in enumerate(values)
    ]  # fmt: skip


def test_a_final_model_clearly_worse_than_its_best_snapshot_is_a_regression() -> None:
    from benchmark.report.compare import REGRESSED, Regression, regressions

    curves = pd.DataFrame(
        _job_curve("worse", [40.0, 12.0, 46.0])  # best snapshot at 60 s, then 46 px at the end
        + _job_curve("noisy", [40.0, 3.0, 3.5])  # 17% worse but only 0.5 px: noise, not a flag
        + _job_curve("better", [40.0, 12.0, 8.0])
        + _job_curve("edge", [40.0, 10.0, 10.0 * REGRESSED])  # exactly at the factor: not above
        + _job_curve("worse", [20.0, 10.0, 11.0], fold=1)
    )
    assert regressions(curves) == {"worse": [Regression(0, 0, 60.0, 12.0, 46.0)]}


def test_learning_flags_name_a_stuck_model_and_a_regressed_one() -> None:
    from benchmark.report.render import learning_flags

    overall = pd.DataFrame(
        [
            {"adapter": "stuck", "metric": "spread_ratio", "value": 0.03},
            {"adapter": "stuck", "metric": "spread_ratio", "value": 0.9},
            {"adapter": "fine", "metric": "spread_ratio", "value": 0.95},
        ]
    )
    curves = pd.DataFrame(_job_curve("fine", [40.0, 12.0, 46.0]))
    flags = learning_flags(overall, curves)
    assert flags == {
        "stuck": [
            "did not learn at this budget in 1 of 2 jobs (its predictions move across the "
            "test frames 3% as much as the labels)"
        ],
        "fine": ["final model worse than its snapshot at 60 s (46.00 px against 12.00 px)"],
    }
    assert learning_flags(overall[overall["adapter"] == "fine"], None) == {}


def _points(adapter: str, points: list[tuple[float, float, float]], fold: int = 0) -> list[dict]:
    """Curve rows of one job: ``(train_s, mean_px_all, pck@10)`` per point, the last one
    the final model."""
    rows = []
    for i, (t, px, pck) in enumerate(points):
        key = {"adapter": adapter, "fold": fold, "seed": 0, "epoch": i + 1, "train_s": t}
        key["final"] = i == len(points) - 1
        rows += [{**key, "metric": "mean_px_all", "value": px}]
        rows += [{**key, "metric": "pck@10", "value": pck}]
    return rows


#: A budget of 120 s; snapshots at 30, 60, 90 s, the final model at 120 s (or earlier).
CURVES = pd.DataFrame(
    _points("flat", [(30, 20.0, 0.5), (60, 10.0, 0.85), (90, 9.6, 0.86), (120, 9.5, 0.86)])
    + _points("falling", [(30, 80.0, 0.1), (60, 40.0, 0.4), (90, 25.0, 0.6), (120, 20.0, 0.7)])
    + _points("short", [(10, 30.0, 0.2), (20, 15.0, 0.7), (40, 12.0, 0.9)])  # its own schedule
)


def test_convergence_compares_the_final_model_with_half_its_training() -> None:
    from benchmark.report.compare import convergence

    ends = convergence(CURVES, budget_s=120.0)
    flat, falling, short = ends["flat"], ends["falling"], ends["short"]
    # flat: 10.0 px at 60 s, 9.5 px at 120 s: fell 5% (< 10%), the budget stopped it.
    assert flat.plateaued and flat.stopped_by_budget and not flat.still_learning
    assert flat.drop == pytest.approx(0.05) and flat.half_px == 10.0 and flat.final_px == 9.5
    # falling: 40 -> 20 px over its second half: still learning when the budget ended.
    assert falling.plateaued is False and falling.still_learning
    assert falling.drop == pytest.approx(0.5)
    # short ended its own schedule at 40 s (half: 15 px at 20 s, fell 20%): not the budget's.
    assert short.plateaued is False and not short.stopped_by_budget and not short.still_learning
    # Without a budget no job was stopped by one.
    assert not any(e.stopped_by_budget for e in convergence(CURVES, None).values())


def test_time_to_accuracy_reads_the_first_point_near_the_best_and_at_the_target() -> None:
    from benchmark.report.compare import time_to_accuracy

    table = time_to_accuracy(CURVES, "pck@10", 0.8).set_index("adapter")
    # Within 10% of its own best (9.5 px -> 10.45 px): flat first at 60 s.
    assert table.loc["flat", "near_best_s"] == 60.0 and table.loc["flat", "target_s"] == 60.0
    # falling reaches 22 px (20 px * 1.1) only with its final model; never PCK@10 80%.
    assert table.loc["falling", "near_best_s"] == 120.0
    assert np.isnan(table.loc["falling", "target_s"]) and table.loc["falling", "reached"] == 0
    assert table.loc["falling", "best_target"] == 0.7
    assert table.loc["short", "target_s"] == 40.0
    # A metric the curves do not hold is not measured.
    missing = time_to_accuracy(CURVES, "pck@3", 0.8).set_index("adapter")
    assert np.isnan(missing.loc["flat", "best_target"])


def test_a_verdict_is_provisional_while_a_contender_is_still_learning() -> None:
    from types import SimpleNamespace

    from benchmark.report.compare import convergence
    from benchmark.report.render import _catch_up_s, _provisional

    # flat is best and falling is not distinguishable from it.
    tied = SimpleNamespace(best="flat", ties=["falling"], mean={"flat": 9.5, "falling": 20.0})
    order = ["flat", "falling", "short"]
    out = _provisional(tied, CURVES, 120.0, order)
    assert out["status"] == "**provisional**"
    # falling halves its error with each doubling (40 -> 20 px): 9.5 px after
    # log(9.5 / 20) / log(0.5) = 1.07 more doublings, at 120 * 2**1.07 = 252 s.
    catch = _catch_up_s(convergence(CURVES, 120.0)["falling"], 9.5)
    assert catch == pytest.approx(120 * 2 ** (np.log(9.5 / 20) / np.log(0.5)))
    assert (
        "falling (its mean px (all) fell 50% over the second half of its training; at "
        in (out["words"])
    )
    assert "A budget of about 4.2 min could change the ranking." in out["words"]

    clear = SimpleNamespace(best="flat", ties=[], mean=tied.mean)  # falling clearly worse
    flat_only = CURVES[CURVES["adapter"] != "falling"]
    assert _provisional(clear, flat_only, 120.0, ["flat", "short"]) == {
        "status": "final",
        "words": None,
    }
