"""What the report concludes from stored errors: rankings with their uncertainty, learning
curves at fractions of the budget, and the spread over folds.

Rankings use :data:`benchmark.metrics.RANKING_METRIC` (mean error over every labelled test
keypoint, a miss counted at a penalty), from ``frame_errors.csv``'s ``scored_px``: each
adapter's errors are averaged over seeds per test keypoint, then test frames are pooled over
folds (the bootstrap's unit is a fold's test frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from benchmark.metrics import (
    bootstrap_median_ci,
    paired_error_difference,
    ranks_with_ties,
    tied_with_best,
)

N_BOOT = 1000
BOOT_SEED = 0
#: One test frame of one fold: what the bootstrap resamples.
UNIT = ["fold", "frame_id"]
#: Fractions of the budget at which the learning-curve table reads each job's curve.
FRACTIONS = (0.25, 0.5, 1.0)
#: The curve metrics the report shows (the ranking metric first).
CURVE_METRICS = ("mean_px_all", "median_px")
_TIME_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Pair:
    """Mean error of ``a`` minus that of ``b`` on their common test keypoints, with its
    paired bootstrap interval."""

    a: str
    b: str
    difference: float | None
    low: float | None
    high: float | None
    n_keypoints: int

    @property
    def tied(self) -> bool:
        """Not distinguishable: the interval includes 0, or there is none."""
        return self.low is None or self.high is None or self.low <= 0 <= self.high

    def verdict(self) -> str:
        """``a better``, ``b better`` or ``not distinguishable``, in words."""
        if self.tied:
            return "not distinguishable"
        return f"{self.a} better" if self.high is not None and self.high < 0 else f"{self.b} better"


@dataclass(frozen=True)
class Ranking:
    """The adapters of one dataset ranked by the ranking metric, with ties.

    Attributes:
        adapters: Adapters with errors, lowest mean error first.
        mean: Mean error per adapter that ranks it (see :func:`rank_adapters`).
        median: Pooled median error per adapter.
        median_ci: 95% bootstrap interval of the median (test frames resampled).
        n_frames: Test frames (fold, frame) per adapter.
        pairs: Every pair, ``a`` ranked above ``b``.
        best: The adapter with the lowest mean error.
        ties: The others not distinguishable from the best, in order.
        ranks: 1 + the number of adapters better with an interval excluding 0.
    """

    adapters: list[str]
    mean: dict[str, float]
    median: dict[str, float]
    median_ci: dict[str, tuple[float | None, float | None]]
    n_frames: dict[str, int]
    pairs: list[Pair]
    best: str | None
    ties: list[str]
    ranks: dict[str, int]

    def pair(self, a: str, b: str) -> Pair | None:
        """The difference ``a - b`` (either order is stored once)."""
        for p in self.pairs:
            if (p.a, p.b) == (a, b):
                return p
            if (p.a, p.b) == (b, a):
                return Pair(a, b, _neg(p.difference), _neg(p.high), _neg(p.low), p.n_keypoints)
        return None

    def interval(self, a: str, b: str) -> tuple[float | None, float | None]:
        """``(low, high)`` of ``a - b``."""
        p = self.pair(a, b)
        return (None, None) if p is None else (p.low, p.high)


def _neg(value: float | None) -> float | None:
    return None if value is None else -value


def error_matrices(
    errors: pd.DataFrame, column: str
) -> tuple[dict[str, np.ndarray], list[tuple], list[str]]:
    """Each adapter's errors as a ``(units, keypoints)`` matrix, averaged over seeds.

    Args:
        errors: Frame errors of one dataset (``adapter``, ``fold``, ``seed``, ``frame_id``,
            ``keypoint`` and ``column``).
        column: ``scored_px`` or ``error_px``.

    Returns:
        Matrices by adapter (NaN where the adapter has no error), the units ``(fold,
        frame_id)`` (rows, the same for every adapter) and the keypoints (columns).
    """
    table = errors.groupby(["adapter", *UNIT, "keypoint"], sort=False)[column].mean()
    units = sorted(set(zip(errors["fold"], errors["frame_id"], strict=True)))
    keypoints = list(dict.fromkeys(errors["keypoint"]))
    index = pd.MultiIndex.from_tuples(units, names=UNIT)
    matrices = {}
    for adapter in dict.fromkeys(errors["adapter"]):
        wide = table.loc[adapter].unstack("keypoint").reindex(index=index, columns=keypoints)
        matrices[str(adapter)] = wide.to_numpy(dtype=float)
    return matrices, units, keypoints


def rank_adapters(
    errors: pd.DataFrame,
    mean_error: dict[str, float] | None = None,
    *,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> Ranking | None:
    """Rank one dataset's adapters by mean ``scored_px`` with paired bootstrap intervals.

    Args:
        errors: Frame errors of one dataset's finished jobs.
        mean_error: Each adapter's mean error to rank by, e.g. the ranking metric averaged
            over its jobs as the report's tables show it; where missing, the pooled mean of
            its ``scored_px`` (the two differ only in how folds are weighted).
        n_boot: Bootstrap replicates.
        seed: Seed of every bootstrap (re-rendering gives the same numbers).

    Returns:
        The ranking; None when the errors have no ``scored_px`` (runs before the ranking
        metric) or no adapter has one.
    """
    if "scored_px" not in errors.columns or not errors["scored_px"].notna().any():
        return None
    matrices, _, _ = error_matrices(errors.dropna(subset=["scored_px"]), "scored_px")
    given = mean_error or {}
    mean = {
        a: float(given[a]) if np.isfinite(given.get(a, np.nan)) else float(np.nanmean(m))
        for a, m in matrices.items()
    }
    adapters = sorted(mean, key=lambda a: (mean[a], a))
    pairs = []
    for i, a in enumerate(adapters):
        for b in adapters[i + 1 :]:
            used = np.isfinite(matrices[a]) & np.isfinite(matrices[b])
            d, low, high = paired_error_difference(
                matrices[a], matrices[b], n_boot=n_boot, seed=seed
            )
            pairs.append(Pair(a, b, d, low, high, int(used.sum())))
    ranking = Ranking(
        adapters=adapters,
        mean=mean,
        median={a: float(np.nanmedian(m)) for a, m in matrices.items()},
        median_ci={
            a: tuple(bootstrap_median_ci(m, n_boot=n_boot, seed=seed))  # type: ignore[misc]
            for a, m in matrices.items()
        },
        n_frames={a: int(np.isfinite(m).any(axis=1).sum()) for a, m in matrices.items()},
        pairs=pairs,
        best=None,
        ties=[],
        ranks={},
    )
    best, ties = tied_with_best(mean, ranking.interval)
    ranks = ranks_with_ties(mean, ranking.interval)
    return replace(ranking, best=best, ties=ties, ranks=ranks)


def rank_groups(ranking: Ranking) -> list[tuple[int, list[str]]]:
    """Adapters grouped by rank, best rank first (within a rank by mean error)."""
    groups: dict[int, list[str]] = {}
    for adapter in ranking.adapters:
        groups.setdefault(ranking.ranks[adapter], []).append(adapter)
    return sorted(groups.items())


# ----------------------------------------------------------------------------- curves
def budget_points(
    curves: pd.DataFrame, budget_s: float | None, fractions: Sequence[float] = FRACTIONS
) -> pd.DataFrame:
    """Each job's learning-curve point at each fraction of the budget.

    At a fraction below 1 the point is the job's last curve point whose training time is at
    or before that fraction of the budget (none: NaN values); at 1 it is the final model (a
    job stopped by the budget ends at the epoch boundary after the budget ran out). Without a
    budget, each job's own final training time stands for 100%.

    Args:
        curves: ``curves.csv`` rows of one dataset's finished jobs.
        budget_s: The run's training budget; None without one.
        fractions: Fractions of the budget.

    Returns:
        One row per job and fraction: ``adapter``, ``fold``, ``seed``, ``fraction``,
        ``at_s`` (the time read), ``epoch``, ``train_s``, ``final`` and each curve metric.
    """
    rows = []
    for (adapter, fold, seed), points in _job_points(curves).items():
        final = points[points["final"].astype(bool)]
        total = budget_s or (float(final["train_s"].iloc[-1]) if len(final) else np.nan)
        for fraction in fractions:
            at = fraction * total
            if fraction >= 1:
                pick = final.iloc[-1] if len(final) else None
            else:
                before = points[points["train_s"] <= at + _TIME_TOLERANCE]
                pick = before.iloc[-1] if len(before) else None
            row = {"adapter": adapter, "fold": fold, "seed": seed, "fraction": fraction}
            row["at_s"] = at
            for key in ("epoch", "train_s", "final", *CURVE_METRICS):
                row[key] = pick.get(key, np.nan) if pick is not None else np.nan
            rows.append(row)
    columns = ["adapter", "fold", "seed", "fraction", "at_s", "epoch", "train_s", "final"]
    return pd.DataFrame(rows, columns=[*columns, *CURVE_METRICS])


def budget_summary(points: pd.DataFrame) -> pd.DataFrame:
    """Per adapter and fraction: each curve metric's mean over the jobs that have a point,
    ``n_jobs`` with a point and ``of_jobs`` in all."""
    if points.empty:
        return pd.DataFrame(columns=["adapter", "fraction", *CURVE_METRICS, "n_jobs", "of_jobs"])
    grouped = points.groupby(["adapter", "fraction"], sort=False)
    out = grouped[list(CURVE_METRICS)].mean()
    out["n_jobs"] = grouped[CURVE_METRICS[0]].count()
    out["of_jobs"] = grouped.size()
    return out.reset_index()


def leaders(summary: pd.DataFrame, fraction: float, metric: str = CURVE_METRICS[0]) -> list[str]:
    """The adapters with the lowest ``metric`` at ``fraction`` (equal to 2 decimals)."""
    rows = summary[(summary["fraction"] == fraction) & summary[metric].notna()]
    if rows.empty:
        return []
    values = rows.set_index("adapter")[metric].round(2)
    return sorted(str(a) for a in values.index[values == values.min()])


def fold_spread(overall: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per adapter, ``metric`` per fold (seeds averaged) and its mean, min and max.

    Args:
        overall: ``metrics.csv`` rows with keypoint ``all`` of one dataset's finished jobs.
        metric: The metric, e.g. the ranking metric.

    Returns:
        Columns ``adapter``, ``n_folds``, ``mean``, ``min``, ``max``, ``per_fold`` (fold ->
        value); empty when no job has the metric.
    """
    rows = overall[(overall["metric"] == metric) & overall["value"].notna()]
    columns = ["adapter", "n_folds", "mean", "min", "max", "per_fold"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    per_fold = rows.groupby(["adapter", "fold"])["value"].mean()
    out = []
    for adapter, values in per_fold.groupby(level="adapter", sort=False):
        folds = {int(f): float(v) for (_, f), v in values.items()}
        vals = list(folds.values())
        out.append([adapter, len(folds), np.mean(vals), min(vals), max(vals), folds])
    return pd.DataFrame(out, columns=columns)


#: A job counts as still improving when its final error is below this share of its error
#: at its last snapshot (75% of its run).
STILL_IMPROVING = 0.8


def still_improving(curves: pd.DataFrame, budget_s: float | None) -> dict[str, float]:
    """Adapters whose jobs the budget stopped while their error was still falling fast.

    Args:
        curves: ``curves.csv`` rows of one dataset's finished jobs.
        budget_s: The run's training budget (None: no adapter was stopped by it).

    Returns:
        Per such adapter, the mean share by which the ranking metric fell from each job's
        last snapshot to its final model (0.6: 60% lower), when that mean final/snapshot
        ratio is below :data:`STILL_IMPROVING` and every job reached the budget.
    """
    if budget_s is None or curves.empty:
        return {}
    rows = curves[curves["metric"] == CURVE_METRICS[0]]
    out = {}
    for adapter, jobs in rows.groupby("adapter", sort=False):
        ratios = []
        for _, job in jobs.groupby(["fold", "seed"]):
            job = job.sort_values(["train_s", "epoch"], kind="stable")
            final = job[job["final"].astype(bool)]
            before = job[~job["final"].astype(bool)]
            if final.empty or before.empty or float(final["train_s"].iloc[-1]) < budget_s:
                ratios = []
                break
            last, end = float(before["value"].iloc[-1]), float(final["value"].iloc[-1])
            if not (np.isfinite(last) and np.isfinite(end) and last > 0):
                ratios = []
                break
            ratios.append(end / last)
        if ratios and np.mean(ratios) < STILL_IMPROVING:
            out[str(adapter)] = 1.0 - float(np.mean(ratios))
    return out


#: A job's final model "regressed" when its ranking metric is above this multiple of the
#: best of its own snapshots, and above it by at least :data:`REGRESSED_MIN_PX` (so that
#: noise between two good models of a few pixels does not count).
REGRESSED = 1.25
REGRESSED_MIN_PX = 2.0


@dataclass(frozen=True)
class Regression:
    """A job whose final model is clearly worse than one of its own snapshots.

    Attributes:
        fold: The job's fold.
        seed: The job's seed.
        snapshot_s: Training seconds of its best snapshot.
        snapshot_px: That snapshot's ranking metric.
        final_px: The final model's ranking metric.
    """

    fold: int
    seed: int
    snapshot_s: float
    snapshot_px: float
    final_px: float


def regressions(curves: pd.DataFrame) -> dict[str, list[Regression]]:
    """Per adapter, its jobs whose final model is clearly worse than their best snapshot.

    Args:
        curves: ``curves.csv`` rows of one dataset's finished jobs.
    """
    rows = curves[curves["metric"] == CURVE_METRICS[0]]
    out: dict[str, list[Regression]] = {}
    for (adapter, fold, seed), job in rows.groupby(["adapter", "fold", "seed"], sort=False):
        final = job[job["final"].astype(bool)]["value"].astype(float)
        snaps = job[~job["final"].astype(bool) & np.isfinite(job["value"].astype(float))]
        if final.empty or snaps.empty or not np.isfinite(final.iloc[-1]):
            continue
        best = snaps.loc[snaps["value"].astype(float).idxmin()]
        end, low = float(final.iloc[-1]), float(best["value"])
        if end > REGRESSED * low and end - low >= REGRESSED_MIN_PX:
            point = Regression(int(fold), int(seed), float(best["train_s"]), low, end)
            out.setdefault(str(adapter), []).append(point)
    return out


# ----------------------------------------------------------------------------- convergence
#: A job reached its plateau when its error fell by less than this share over the second
#: half of its training: from its last curve point at or before half its training time to
#: its final model (``mean_px_all``).
PLATEAU_MARGIN = 0.10
#: Time to accuracy: a job is "within 10% of its best" from the first curve point whose
#: error is at most this multiple of the lowest error on its curve.
NEAR_BEST = 1.10


@dataclass(frozen=True)
class Convergence:
    """How an adapter's jobs on one dataset ended, read from their learning curves.

    Attributes:
        plateaued: Its jobs' error fell, on average, less than :data:`PLATEAU_MARGIN` over
            the second half of their training (None: a job has no point at half its
            training).
        stopped_by_budget: Some job ran until the budget (its schedule did not end first).
        drop: Mean share by which the error fell over the second half of training.
        half_px: Mean error at half the training time.
        final_px: Mean error of the final models.
        final_s: Mean training time of the final models.
    """

    plateaued: bool | None
    stopped_by_budget: bool
    drop: float | None
    half_px: float | None
    final_px: float | None
    final_s: float | None

    @property
    def still_learning(self) -> bool:
        """The budget stopped it before its plateau: a larger budget may lower its error."""
        return self.stopped_by_budget and self.plateaued is False


def _job_points(curves: pd.DataFrame) -> dict[tuple[str, int, int], pd.DataFrame]:
    """Each job's curve as a table: one row per point (in time order), one column per
    metric."""
    out = {}
    for (adapter, fold, seed), job in curves.groupby(["adapter", "fold", "seed"], sort=True):
        out[(str(adapter), int(fold), int(seed))] = (
            job.groupby(["epoch", "train_s", "final", "metric"])["value"]
            .first()
            .unstack("metric")
            .reset_index()
            .sort_values(["train_s", "epoch"], kind="stable")
        )
    return out


def convergence(curves: pd.DataFrame, budget_s: float | None) -> dict[str, Convergence]:
    """Per adapter, whether its jobs reached their plateau (:data:`PLATEAU_MARGIN`).

    Args:
        curves: ``curves.csv`` rows of one dataset's finished jobs.
        budget_s: The run's training budget (None: every job ended by its own schedule).
    """
    metric = CURVE_METRICS[0]
    # Per job: stopped by the budget, error at half its training, final error, final time.
    per_adapter: dict[str, list[tuple[bool, float, float, float]]] = {}
    for (adapter, _, _), points in _job_points(curves).items():
        if metric not in points.columns:
            continue
        final = points[points["final"].astype(bool)]
        if final.empty:
            continue
        end_s, end = float(final["train_s"].iloc[-1]), float(final[metric].iloc[-1])
        before = points[~points["final"].astype(bool) & (points["train_s"] <= end_s / 2)]
        before = before[np.isfinite(before[metric].astype(float))]
        half = float(before[metric].iloc[-1]) if len(before) else np.nan
        by_budget = budget_s is not None and end_s >= budget_s
        per_adapter.setdefault(adapter, []).append((by_budget, half, end, end_s))
    out = {}
    for adapter, jobs in per_adapter.items():
        halves = np.array([j[1] for j in jobs], dtype=float)
        ends = np.array([j[2] for j in jobs], dtype=float)
        ok = np.isfinite(halves) & np.isfinite(ends) & (halves > 0)
        drop = float(np.mean(1 - ends[ok] / halves[ok])) if ok.any() else None
        out[adapter] = Convergence(
            plateaued=drop < PLATEAU_MARGIN if ok.all() and drop is not None else None,
            stopped_by_budget=any(j[0] for j in jobs),
            drop=drop,
            half_px=float(np.mean(halves[ok])) if ok.any() else None,
            final_px=float(np.nanmean(ends)) if np.isfinite(ends).any() else None,
            final_s=float(np.mean([j[3] for j in jobs])),
        )
    return out


def time_to_accuracy(curves: pd.DataFrame, target_metric: str, target: float) -> pd.DataFrame:
    """Per adapter, the training time to accuracy, read from its jobs' curves (as MLPerf
    reports time to a quality target).

    Args:
        curves: ``curves.csv`` rows of one dataset's finished jobs.
        target_metric: A curve metric where higher is better (``pck@10``).
        target: The value it must reach (0.8).

    Returns:
        One row per adapter: ``near_best_s`` (mean over jobs of the first time its error is
        within :data:`NEAR_BEST` of its own lowest), ``target_s`` (mean first time the target
        is reached, NaN unless every job reached it), ``reached`` and ``jobs`` (how many jobs
        reached it, of how many) and ``best_target`` (the best value of the target metric any
        of its jobs reached).
    """
    metric = CURVE_METRICS[0]
    rows: dict[str, dict[str, list[float]]] = {}
    for (adapter, _, _), points in _job_points(curves).items():
        acc = rows.setdefault(adapter, {"near": [], "target": [], "best": []})
        if metric in points.columns and np.isfinite(points[metric].astype(float)).any():
            err = points[metric].astype(float)
            near = points["train_s"][err <= NEAR_BEST * err.min()]
            acc["near"].append(float(near.iloc[0]))
        values = points[target_metric].astype(float) if target_metric in points.columns else None
        if values is None or not np.isfinite(values).any():
            acc["target"].append(np.nan)
            acc["best"].append(np.nan)
            continue
        hit = points["train_s"][values >= target]
        acc["target"].append(float(hit.iloc[0]) if len(hit) else np.inf)
        acc["best"].append(float(values.max()))
    out = []
    for adapter, acc in rows.items():
        target_s = np.array(acc["target"], dtype=float)
        reached = int(np.isfinite(target_s).sum())
        out.append(
            {
                "adapter": adapter,
                "near_best_s": float(np.mean(acc["near"])) if acc["near"] else np.nan,
                "target_s": float(target_s.mean()) if reached == len(target_s) else np.nan,
                "reached": reached,
                "jobs": len(target_s),
                "best_target": float(np.nanmax(acc["best"])) if np.isfinite(acc["best"]).any()
                else np.nan,
            }
        )  # fmt: skip
    columns = ["adapter", "near_best_s", "target_s", "reached", "jobs", "best_target"]
    return pd.DataFrame(out, columns=columns)
