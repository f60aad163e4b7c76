"""Keypoint accuracy metrics, computed by the harness with the same code for every framework.

For labelled keypoint j in test frame i the error is the Euclidean distance in original image
pixels. A keypoint with a NaN prediction is "not detected". Distances (mean, median, RMSE,
percentiles) are over detected labelled keypoints; ``detection_rate`` and ``pck@T`` are over
all labelled keypoints (misses count as failures). Undefined values are ``None``, never NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from benchmark.dataset import Dataset

#: PCK thresholds in pixels when a run config or command names none.
DEFAULT_THRESHOLDS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0)
SCALAR_KEYS = (
    "n_frames",
    "n_labeled",
    "detection_rate",
    "mean_px",
    "median_px",
    "rmse_px",
    "p90_px",
    "p95_px",
)
_BOOT_CHUNK = 100  # bootstrap replicates drawn per block, to bound memory on big test sets


@dataclass(frozen=True)
class Metric:
    """One accuracy metric: how it is named, shown and compared everywhere.

    Attributes:
        name: Key in ``summarize`` results and ``metrics.csv`` (``mean_px``, ``pck@5``).
        label: Column header in tables (``median px``, ``PCK@5``).
        unit: ``px`` (a distance) or ``share`` (a fraction in [0, 1]).
        better: Whether ``lower`` or ``higher`` values are better.
        definition: What it measures, in one line (the report's legend).
    """

    name: str
    label: str
    unit: Literal["px", "share"]
    better: Literal["lower", "higher"]
    definition: str

    def value(self, summary: Mapping) -> float | None:
        """This metric's value in a ``summarize`` result (overall or one keypoint's)."""
        if self.name.startswith("pck@"):
            return (summary.get("pck") or {}).get(self.name[4:])
        return summary.get(self.name)


_OVER_DETECTED = "over detected labelled keypoints"
#: What a labelled keypoint with no predicted location counts as in ``mean_px_all``: half
#: the frame's diagonal, about the error of a guess anywhere in the frame. Adapters return
#: every location their framework produces, so misses are rare; the penalty only keeps an
#: adapter that leaves keypoints out from ranking above one that locates them all.
MISS_PENALTY_WORDS = "half the frame's diagonal"
#: Prefix of the metric names (``metrics.csv``) that apply each framework's own score cutoff.
CUTOFF_PREFIX = "cutoff_"
#: The metric rankings use (best adapter, paired differences): it counts every labelled
#: keypoint, so leaving hard keypoints out cannot improve it.
RANKING_METRIC = "mean_px_all"
#: The distance and detection metrics (DESIGN.md, Metrics), in the order tables show them.
ACCURACY_METRICS: tuple[Metric, ...] = (
    Metric(
        "mean_px_all",
        "mean px (all)",
        "px",
        "lower",
        f"mean error over every labelled keypoint, a miss counted as {MISS_PENALTY_WORDS} "
        "(the ranking metric)",
    ),
    Metric("mean_px", "mean px", "px", "lower", f"mean error {_OVER_DETECTED}"),
    Metric("median_px", "median px", "px", "lower", f"median error {_OVER_DETECTED}"),
    Metric("rmse_px", "RMSE px", "px", "lower", f"sqrt(mean(e²)) {_OVER_DETECTED}"),
    Metric("p90_px", "p90 px", "px", "lower", f"90th percentile of the error {_OVER_DETECTED}"),
    Metric("p95_px", "p95 px", "px", "lower", f"95th percentile of the error {_OVER_DETECTED}"),
    Metric(
        "detection_rate",
        "detected",
        "share",
        "higher",
        "share of labelled keypoints with a prediction",
    ),
)


def pck_metric(threshold: float) -> Metric:
    """``pck@T``: share of labelled keypoints detected within ``threshold`` px."""
    key = threshold_key(threshold)
    return Metric(
        f"pck@{key}",
        f"PCK@{key}",
        "share",
        "higher",
        f"share of labelled keypoints detected within {key} px (misses count as failures)",
    )


def accuracy_metrics(thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> list[Metric]:
    """Every accuracy metric of a run with PCK ``thresholds``, in table order."""
    *distances, detection = ACCURACY_METRICS
    return [*distances, *(pck_metric(t) for t in thresholds), detection]


def metric(name: str, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> Metric:
    """The metric called ``name`` (``pck@T`` for any T).

    Raises:
        KeyError: No such metric.
    """
    if name.startswith("pck@"):
        return pck_metric(float(name[4:]))
    for m in accuracy_metrics(thresholds):
        if m.name == name:
            return m
    raise KeyError(name)


def labeled_mask(gt: np.ndarray) -> np.ndarray:
    """``(n, k)`` True where the ground truth ``(n, k, 2)`` has both coordinates."""
    return np.isfinite(np.asarray(gt, dtype=float)[..., :2]).all(axis=-1)


def detected_mask(pred: np.ndarray) -> np.ndarray:
    """``(n, k)`` True where the prediction ``(n, k, >=2)`` has finite x and y."""
    return np.isfinite(np.asarray(pred, dtype=float)[..., :2]).all(axis=-1)


def keypoint_errors(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Euclidean error per keypoint.

    Args:
        gt: ``(n, k, 2)`` ground truth, NaN = not labelled.
        pred: ``(n, k, >=2)`` predictions (x, y, optional score), NaN = not detected.

    Returns:
        ``(n, k)`` errors in pixels, NaN where not labelled or not detected.
    """
    gt = np.asarray(gt, dtype=float)
    pred = np.asarray(pred, dtype=float)
    if gt.ndim != 3 or gt.shape[-1] != 2 or pred.ndim != 3 or pred.shape[-1] < 2:
        raise ValueError(
            f"expected gt (n, k, 2) and pred (n, k, >=2), got {gt.shape}, {pred.shape}"
        )
    if pred.shape[:2] != gt.shape[:2]:
        raise ValueError(f"gt {gt.shape[:2]} and pred {pred.shape[:2]} differ in frames/keypoints")
    err = np.linalg.norm(pred[..., :2] - gt, axis=-1)
    err[~(labeled_mask(gt) & detected_mask(pred))] = np.nan
    return err


def miss_penalty_px(image_sizes: Sequence[tuple[int, int]]) -> np.ndarray:
    """Each frame's miss penalty (:data:`MISS_PENALTY_WORDS`) from its ``(w, h)``."""
    sizes = np.asarray(image_sizes, dtype=float).reshape(-1, 2)
    return 0.5 * np.hypot(sizes[:, 0], sizes[:, 1])


def scored_errors(gt: np.ndarray, pred: np.ndarray, penalty: np.ndarray | float) -> np.ndarray:
    """``(n, k)`` errors with each labelled keypoint that has no location counted as its
    frame's ``penalty``; NaN only where not labelled."""
    err = keypoint_errors(gt, pred)
    penalty = np.broadcast_to(np.asarray(penalty, dtype=float).reshape(-1, 1), err.shape)
    miss = labeled_mask(gt) & ~np.isfinite(err)
    return np.where(miss, penalty, err)


def apply_cutoff(pred: np.ndarray, cutoff: float | None) -> np.ndarray:
    """``pred`` with the locations whose score is below ``cutoff`` made misses (NaN x, y);
    a copy. ``None``: unchanged."""
    out = np.array(pred, dtype=float)
    if cutoff is not None and out.shape[-1] >= 3:
        with np.errstate(invalid="ignore"):
            out[out[..., 2] < cutoff, :2] = np.nan
    return out


def threshold_key(t: float) -> str:
    """How a PCK threshold is written in JSON keys and metric names: ``5``, ``2.5``."""
    return f"{float(t):g}"


def _scalars(err: np.ndarray, labeled: np.ndarray, n_frames: int, thresholds) -> dict:
    """Metrics of one set of errors (any shape); ``err`` is NaN where labelled but missed."""
    n_labeled = int(labeled.sum())
    e = err[labeled & np.isfinite(err)]
    out: dict = {"n_frames": int(n_frames), "n_labeled": n_labeled}
    out["detection_rate"] = e.size / n_labeled if n_labeled else None
    if e.size:
        p90, p95 = np.percentile(e, [90, 95])
        out |= {
            "mean_px": float(e.mean()),
            "median_px": float(np.median(e)),
            "rmse_px": float(np.sqrt(np.mean(e**2))),
            "p90_px": float(p90),
            "p95_px": float(p95),
        }
    else:
        out |= dict.fromkeys(("mean_px", "median_px", "rmse_px", "p90_px", "p95_px"))
    out["pck"] = {
        threshold_key(t): (float((e <= t).sum() / n_labeled) if n_labeled else None)
        for t in thresholds
    }
    return out


def bootstrap_mean_ci(
    err: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> list[float | None]:
    """Percentile bootstrap CI of the mean error, resampling frames with replacement.

    Args:
        err: ``(n_frames, k)`` errors, NaN where not labelled or not detected.
        n_boot: Number of bootstrap replicates (0 gives ``[None, None]``).
        seed: Seed of the resampling.
        level: Confidence level.

    Returns:
        ``[low, high]``; ``[None, None]`` when there is no detected labelled keypoint.
    """
    ok = np.isfinite(err)
    if n_boot <= 0 or not ok.any():
        return [None, None]
    frame_sum = np.where(ok, err, 0.0).sum(axis=1)
    return list(_frame_bootstrap(frame_sum, ok.sum(axis=1), n_boot, seed, level))


def _frame_bootstrap(
    frame_sum: np.ndarray, frame_count: np.ndarray, n_boot: int, seed: int, level: float
) -> tuple[float, float]:
    """Percentile interval of ``sum(frame_sum) / sum(frame_count)`` over frames resampled
    with replacement (a mean over keypoints, resampling whole frames)."""
    rng = np.random.default_rng(seed)
    n = len(frame_sum)
    reps = []
    for start in range(0, n_boot, _BOOT_CHUNK):
        idx = rng.integers(0, n, size=(min(_BOOT_CHUNK, n_boot - start), n))
        count = frame_count[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps.append(frame_sum[idx].sum(axis=1) / count)
    boot = np.concatenate(reps)
    boot = boot[np.isfinite(boot)]  # replicates that drew only frames without a keypoint
    alpha = (1 - level) / 2
    low, high = np.percentile(boot, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def summarize(
    gt: np.ndarray,
    pred: np.ndarray,
    keypoints: Sequence[str],
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    n_boot: int = 1000,
    seed: int = 0,
    miss_penalty: np.ndarray | float | None = None,
) -> dict:
    """All accuracy metrics, overall and per keypoint (the ``kpbench evaluate --json`` object).

    Args:
        gt: ``(n, k, 2)`` ground truth of the test frames, NaN = not labelled.
        pred: ``(n, k, >=2)`` aligned predictions, NaN = not detected.
        keypoints: The k keypoint names.
        thresholds: PCK thresholds in pixels.
        n_boot: Bootstrap replicates for ``mean_px_ci95``.
        seed: Seed of the bootstrap.
        miss_penalty: Per-frame ``(n,)`` (or one) error counted for a miss in
            ``mean_px_all`` (:func:`miss_penalty_px`); None leaves ``mean_px_all`` out.

    Returns:
        Keys ``n_frames``, ``n_labeled``, ``detection_rate``, ``mean_px``, ``median_px``,
        ``rmse_px``, ``p90_px``, ``p95_px``, ``pck`` (threshold string -> share),
        ``mean_px_ci95`` ([low, high]), ``spread_ratio`` (:func:`spread_ratio`),
        ``mean_px_all`` (with a ``miss_penalty``) and ``per_keypoint`` (name -> the same,
        without CI and spread). Undefined values are ``None``.
    """
    err = keypoint_errors(gt, pred)
    if len(keypoints) != err.shape[1]:
        raise ValueError(f"{len(keypoints)} keypoint names for {err.shape[1]} keypoints")
    labeled = labeled_mask(gt)
    n = err.shape[0]
    out = _scalars(err, labeled, n, thresholds)
    out["mean_px_ci95"] = bootstrap_mean_ci(err, n_boot=n_boot, seed=seed)
    out["per_keypoint"] = {
        name: _scalars(err[:, j], labeled[:, j], n, thresholds) for j, name in enumerate(keypoints)
    }
    out["spread_ratio"] = spread_ratio(gt, pred)
    if miss_penalty is not None:
        scored = scored_errors(gt, pred, miss_penalty)
        out["mean_px_all"] = _mean_or_none(scored)
        for j, name in enumerate(keypoints):
            out["per_keypoint"][name]["mean_px_all"] = _mean_or_none(scored[:, j])
    return out


#: A model "did not learn" when its predictions move across the test frames less than this
#: share of how much the labels move (:func:`spread_ratio`): it predicts about the same place
#: in every frame, wherever the animal is.
NO_LEARNING_SPREAD = 0.1


def spread_ratio(gt: np.ndarray, pred: np.ndarray) -> float | None:
    """How much the predictions follow the animal across frames, relative to the labels.

    Per keypoint, over the frames where it is labelled and detected: the RMS distance of the
    predicted points from their mean, divided by the RMS distance of the labelled points from
    theirs; the median over keypoints. About 1 for a model that follows the animal, near 0
    for one that puts a keypoint at the same place in every frame.

    Args:
        gt: ``(n, k, 2)`` ground truth, NaN = not labelled.
        pred: ``(n, k, >=2)`` aligned predictions, NaN = not detected.

    Returns:
        The ratio, or None when no keypoint has two such frames with labels that move.
    """
    ratios = []
    for j in range(gt.shape[1]):
        ok = np.isfinite(gt[:, j]).all(axis=-1) & np.isfinite(pred[:, j, :2]).all(axis=-1)
        if ok.sum() < 2:
            continue
        label_spread = _rms_spread(gt[ok, j])
        if label_spread > 0:
            ratios.append(_rms_spread(pred[ok, j, :2]) / label_spread)
    return float(np.median(ratios)) if ratios else None


def _rms_spread(points: np.ndarray) -> float:
    """RMS distance of ``(m, 2)`` points from their mean."""
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=-1).mean()))


def _mean_or_none(values: np.ndarray) -> float | None:
    ok = values[np.isfinite(values)]
    return float(ok.mean()) if ok.size else None


def _metric_rows(keypoint: str, m: dict) -> list[tuple[str, str, float]]:
    def num(v: float | None) -> float:
        return float("nan") if v is None else float(v)

    rows = [(keypoint, k, num(m[k])) for k in SCALAR_KEYS]
    for key in ("mean_px_all", "spread_ratio"):
        if key in m:
            rows.append((keypoint, key, num(m[key])))
    if "mean_px_ci95" in m:
        low, high = m["mean_px_ci95"]
        rows += [
            (keypoint, "mean_px_ci95_low", num(low)),
            (keypoint, "mean_px_ci95_high", num(high)),
        ]
    rows += [(keypoint, f"pck@{t}", num(v)) for t, v in m["pck"].items()]
    return rows


def tidy_rows(summary: dict) -> list[tuple[str, str, float]]:
    """``(keypoint, metric, value)`` rows of a ``summarize`` result for ``metrics.csv``.

    Overall rows have keypoint ``"all"``; undefined values are NaN.
    """
    rows = _metric_rows("all", summary)
    for name, m in summary["per_keypoint"].items():
        rows += _metric_rows(name, m)
    return rows


def evaluate(
    gt: Dataset,
    pred_path: str | Path,
    *,
    test_frames: Sequence[str] | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Metrics of the predictions in ``pred_path`` on the ground truth's (test) frames.

    Args:
        gt: Ground truth dataset.
        pred_path: DeepLabCut-style CSV/h5 or SLEAP ``.slp`` with predicted instances.
        test_frames: Frame ids to evaluate (e.g. a split's ``test``); all frames when None.
        thresholds: PCK thresholds in pixels.
        n_boot: Bootstrap replicates for the CI of ``mean_px``.
        seed: Seed of the bootstrap.

    Returns:
        The ``summarize`` object (``kpbench evaluate --json`` prints it).

    Raises:
        InputError: The prediction file is unreadable or misses a frame or keypoint.
        KeyError: A test frame is not in ``gt``.
    """
    from benchmark.io.predictions import align_predictions, read_predictions

    if test_frames is not None:
        gt = gt.subset(test_frames)
    values = align_predictions(gt, read_predictions(pred_path), pred_path)
    return summarize(
        gt.points, values, gt.keypoints, thresholds=thresholds, n_boot=n_boot, seed=seed
    )


def paired_difference(
    gt: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    miss_penalty: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None, float | None]:
    """Mean error of A minus mean error of B on the same test keypoints, with a paired
    bootstrap interval (test frames resampled with replacement, both adapters together).

    Args:
        gt: ``(n, k, 2)`` ground truth, NaN = not labelled.
        pred_a: ``(n, k, >=2)`` predictions of adapter A on the same frames, NaN = missed.
        pred_b: The same for adapter B.
        miss_penalty: Error counted for a labelled keypoint an adapter missed; None compares
            only the labelled keypoints both adapters detected.
        n_boot: Bootstrap replicates.
        seed: Seed of the resampling.
        level: Confidence level.

    Returns:
        ``(difference, low, high)``; all None when no keypoint can be compared. An interval
        that includes 0 means the two are not distinguishable on this data.
    """
    labeled = labeled_mask(gt)
    if miss_penalty is None:
        err_a, err_b = keypoint_errors(gt, pred_a), keypoint_errors(gt, pred_b)
    else:
        err_a = scored_errors(gt, pred_a, miss_penalty)
        err_b = scored_errors(gt, pred_b, miss_penalty)
    err_a[~labeled], err_b[~labeled] = np.nan, np.nan
    return paired_error_difference(err_a, err_b, n_boot=n_boot, seed=seed, level=level)


def paired_error_difference(
    err_a: np.ndarray,
    err_b: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None, float | None]:
    """Mean of ``err_a - err_b`` over the keypoints both have, with a paired bootstrap
    interval resampling rows (test frames) with replacement.

    Args:
        err_a: ``(n_frames, k)`` errors of adapter A, NaN where not compared.
        err_b: The same keypoints' errors of adapter B.
        n_boot: Bootstrap replicates (0: no interval).
        seed: Seed of the resampling.
        level: Confidence level.

    Returns:
        ``(difference, low, high)``; all None when no keypoint can be compared.
    """
    err_a, err_b = np.asarray(err_a, dtype=float), np.asarray(err_b, dtype=float)
    used = np.isfinite(err_a) & np.isfinite(err_b)
    if not used.any():
        return None, None, None
    diff = np.where(used, err_a - err_b, 0.0)
    frame_sum, frame_count = diff.sum(axis=1), used.sum(axis=1)
    point = float(frame_sum.sum() / frame_count.sum())
    if n_boot <= 0:
        return point, None, None
    return (point, *_frame_bootstrap(frame_sum, frame_count, n_boot, seed, level))


def tied_with_best(
    mean_error: Mapping[str, float],
    interval: Callable[[str, str], tuple[float | None, float | None]],
) -> tuple[str | None, list[str]]:
    """The adapter with the lowest mean error and those not distinguishable from it.

    Args:
        mean_error: Each adapter's mean error (NaN or missing: not ranked).
        interval: ``(low, high)`` of the paired difference of two adapters.

    Returns:
        The best adapter (None when none has an error) and, in order of mean error, the
        others whose paired interval against it includes 0 (or cannot be computed).
    """
    ranked = sorted((e, a) for a, e in mean_error.items() if e is not None and np.isfinite(e))
    if not ranked:
        return None, []
    best = ranked[0][1]
    ties = []
    for _, other in ranked[1:]:
        low, high = interval(other, best)
        if low is None or high is None or low <= 0 <= high:
            ties.append(other)
    return best, ties


# ----------------------------------------------------------------------------- rankings
# The median's interval over test frames, and ranks with ties from the paired differences.


def bootstrap_median_ci(
    err: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> list[float | None]:
    """Percentile bootstrap CI of the median error over all keypoints, resampling rows (test
    frames) with replacement.

    Args:
        err: ``(n_frames, k)`` errors, NaN where not counted.
        n_boot: Number of bootstrap replicates (0 gives ``[None, None]``).
        seed: Seed of the resampling.
        level: Confidence level.

    Returns:
        ``[low, high]``; ``[None, None]`` when no error is finite.
    """
    err = np.asarray(err, dtype=float).reshape(len(err), -1)
    if n_boot <= 0 or not np.isfinite(err).any():
        return [None, None]
    rng = np.random.default_rng(seed)
    n = len(err)
    reps = []
    for start in range(0, n_boot, _BOOT_CHUNK):
        idx = rng.integers(0, n, size=(min(_BOOT_CHUNK, n_boot - start), n))
        drawn = err[idx].reshape(len(idx), -1)
        keep = np.isfinite(drawn).any(axis=1)  # replicates that drew only empty frames
        reps.append(np.nanmedian(drawn[keep], axis=1))
    boot = np.concatenate(reps)
    alpha = (1 - level) / 2
    low, high = np.percentile(boot, [100 * alpha, 100 * (1 - alpha)])
    return [float(low), float(high)]


def ranks_with_ties(
    mean_error: Mapping[str, float],
    interval: Callable[[str, str], tuple[float | None, float | None]],
) -> dict[str, int]:
    """Each adapter's rank: 1 + the number of adapters that are better with a paired
    interval excluding 0 (adapters not distinguishable from each other can share a rank).

    Args:
        mean_error: Each adapter's mean error (NaN or missing: not ranked).
        interval: ``(low, high)`` of the paired difference ``a - b`` of two adapters.

    Returns:
        Rank by adapter, for the adapters with a mean error.
    """
    ranked = [a for a, e in mean_error.items() if e is not None and np.isfinite(e)]
    ranks = {}
    for a in ranked:
        better = 0
        for b in ranked:
            if b == a:
                continue
            low, high = interval(a, b)
            if low is not None and high is not None and low > 0:  # a's error is larger
                better += 1
        ranks[a] = 1 + better
    return ranks
