"""Metrics: every value against a plain independent computation, hand-computed cases, and
evaluate() on the real open-field mouse labels."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import InputError
from benchmark.io import read_dataset
from benchmark.io.predictions import write_dlc_predictions
from benchmark.metrics import (
    bootstrap_mean_ci,
    detected_mask,
    evaluate,
    keypoint_errors,
    labeled_mask,
    summarize,
    threshold_key,
    tidy_rows,
)
from benchmark.splits import make_splits

KEYPOINTS = ("snout", "left_ear", "right_ear", "tail_base")
SCALARS = ("mean_px", "median_px", "rmse_px", "p90_px", "p95_px")


def random_case(seed: int = 0, n: int = 40, k: int = 4):
    """GT with ~15% NaN labels and predictions = GT + noise with ~10% NaN (not detected)."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 640, (n, k, 2))
    gt[rng.random((n, k)) < 0.15] = np.nan
    pred = np.concatenate([gt + rng.normal(0, 6, (n, k, 2)), rng.random((n, k, 1))], axis=-1)
    pred[np.isnan(gt[..., 0]), :2] = rng.uniform(0, 640, (int(np.isnan(gt[..., 0]).sum()), 2))
    pred[rng.random((n, k)) < 0.10, :2] = np.nan
    return gt, pred


def reference_errors(gt, pred):
    """Plain loop: distance where both labelled and predicted, else NaN."""
    n, k = gt.shape[:2]
    out = np.full((n, k), np.nan)
    for i in range(n):
        for j in range(k):
            gx, gy = gt[i, j]
            px, py = pred[i, j, :2]
            if not any(math.isnan(v) for v in (gx, gy, px, py)):
                out[i, j] = math.hypot(px - gx, py - gy)
    return out


def reference_metrics(gt, pred, thresholds=(2, 5, 10, 20)):
    """Metrics of all given frames/keypoints, straight from the DESIGN.md table."""
    err = reference_errors(gt, pred)
    labeled = ~np.isnan(gt[..., 0])
    e = err[~np.isnan(err)]
    n_lab = int(labeled.sum())
    return {
        "n_frames": gt.shape[0],
        "n_labeled": n_lab,
        "detection_rate": len(e) / n_lab,
        "mean_px": float(np.mean(e)),
        "median_px": float(np.median(e)),
        "rmse_px": math.sqrt(sum(x * x for x in e) / len(e)),
        "p90_px": float(np.percentile(e, 90)),
        "p95_px": float(np.percentile(e, 95)),
        "pck": {str(t): sum(1 for x in e if x <= t) / n_lab for t in thresholds},
    }


def assert_metrics_equal(got: dict, want: dict):
    for key, value in want.items():
        if key == "pck":
            assert got["pck"].keys() == value.keys()
            for t in value:
                assert got["pck"][t] == pytest.approx(value[t], abs=1e-12), t
        else:
            assert got[key] == pytest.approx(value, rel=1e-12), key


def test_keypoint_errors_and_masks_match_a_plain_loop():
    gt, pred = random_case(1)
    err = keypoint_errors(gt, pred)
    np.testing.assert_allclose(err, reference_errors(gt, pred), rtol=1e-12)
    np.testing.assert_array_equal(labeled_mask(gt), ~np.isnan(gt[..., 0]))
    np.testing.assert_array_equal(detected_mask(pred), ~np.isnan(pred[..., 0]))
    assert np.isnan(err[~labeled_mask(gt)]).all()
    assert np.isnan(err[~detected_mask(pred)]).all()


def test_keypoint_errors_accepts_xy_only_and_checks_shapes():
    gt = np.array([[[0.0, 0.0]]])
    assert keypoint_errors(gt, np.array([[[3.0, 4.0]]]))[0, 0] == 5.0
    with pytest.raises(ValueError):
        keypoint_errors(gt, np.zeros((2, 1, 3)))
    with pytest.raises(ValueError):
        keypoint_errors(gt[..., :1], np.zeros((1, 1, 3)))


def test_summary_matches_reference_overall_and_per_keypoint():
    gt, pred = random_case(2)
    s = summarize(gt, pred, KEYPOINTS, n_boot=200, seed=5)
    assert_metrics_equal(s, reference_metrics(gt, pred))
    assert list(s["per_keypoint"]) == list(KEYPOINTS)
    for j, name in enumerate(KEYPOINTS):
        per = s["per_keypoint"][name]
        assert_metrics_equal(per, reference_metrics(gt[:, j : j + 1], pred[:, j : j + 1]))
        assert "mean_px_ci95" not in per


def test_summary_has_exactly_the_documented_keys():
    gt, pred = random_case(3)
    s = summarize(gt, pred, KEYPOINTS)
    scalar = ["n_frames", "n_labeled", "detection_rate", *SCALARS]
    assert sorted(s) == sorted([*scalar, "pck", "mean_px_ci95", "spread_ratio", "per_keypoint"])
    assert list(s["pck"]) == ["2", "5", "10", "20"]
    for per in s["per_keypoint"].values():
        assert sorted(per) == sorted([*scalar, "pck"])
    json.dumps(s, allow_nan=False)  # plain JSON, no NaN


def test_bootstrap_ci_matches_a_plain_resampling():
    gt, pred = random_case(4, n=25)
    err = reference_errors(gt, pred)
    n_boot, seed = 300, 11
    idx = np.random.default_rng(seed).integers(0, 25, size=(n_boot, 25))
    means = [np.nanmean(np.concatenate([err[i] for i in row])) for row in idx]
    want = np.percentile(means, [2.5, 97.5])
    s = summarize(gt, pred, KEYPOINTS, n_boot=n_boot, seed=seed)
    assert s["mean_px_ci95"] == pytest.approx(list(want), rel=1e-12)
    low, high = s["mean_px_ci95"]
    assert low < s["mean_px"] < high


def test_bootstrap_is_seeded():
    gt, pred = random_case(5)
    a = summarize(gt, pred, KEYPOINTS, seed=1)["mean_px_ci95"]
    assert summarize(gt, pred, KEYPOINTS, seed=1)["mean_px_ci95"] == a
    assert summarize(gt, pred, KEYPOINTS, seed=2)["mean_px_ci95"] != a


def test_bootstrap_skips_replicates_without_detections():
    # One frame of two has a detection; replicates drawing only the other are undefined.
    err = np.array([[2.0], [np.nan]])
    assert bootstrap_mean_ci(err, n_boot=50, seed=0) == [2.0, 2.0]
    assert bootstrap_mean_ci(np.full((3, 2), np.nan)) == [None, None]
    assert bootstrap_mean_ci(err, n_boot=0) == [None, None]


def test_hand_computed_tiny_case():
    nan = np.nan
    # 2 frames x 3 keypoints.
    gt = np.array(
        [
            [[0, 0], [10, 10], [nan, nan]],
            [[0, 0], [10, 10], [nan, nan]],
        ],
        dtype=float,
    )
    pred = np.array(
        [
            [[3, 4, 0.9], [nan, nan, 0.1], [1, 1, 0.5]],  # e = 5 (exactly at T=5), missed, unlab.
            [[0, 2, 0.8], [nan, nan, 0.0], [nan, nan, 0.2]],  # e = 2 (exactly at T=2), missed
        ]
    )
    s = summarize(gt, pred, ("a", "b", "c"), thresholds=(2, 2.5, 5), n_boot=100)
    assert s["n_frames"] == 2
    assert s["n_labeled"] == 4
    assert s["detection_rate"] == 0.5
    assert s["mean_px"] == 3.5
    assert s["median_px"] == 3.5
    assert s["rmse_px"] == pytest.approx(math.sqrt((25 + 4) / 2))
    assert s["p90_px"] == pytest.approx(2 + 0.9 * 3)
    assert s["p95_px"] == pytest.approx(2 + 0.95 * 3)
    assert s["pck"] == {"2": 0.25, "2.5": 0.25, "5": 0.5}
    a, b, c = (s["per_keypoint"][k] for k in "abc")
    assert (a["n_labeled"], a["detection_rate"], a["mean_px"]) == (2, 1.0, 3.5)
    assert a["pck"] == {"2": 0.5, "2.5": 0.5, "5": 1.0}
    # All missed: distances undefined, rates zero.
    assert (b["n_labeled"], b["detection_rate"]) == (2, 0.0)
    assert all(b[key] is None for key in SCALARS)
    assert b["pck"] == {"2": 0.0, "2.5": 0.0, "5": 0.0}
    # All unlabelled: nothing is defined, predictions there are ignored.
    assert (c["n_frames"], c["n_labeled"]) == (2, 0)
    assert c["detection_rate"] is None
    assert all(c[key] is None for key in SCALARS)
    assert c["pck"] == {"2": None, "2.5": None, "5": None}
    json.dumps(s, allow_nan=False)


def test_nothing_detected_gives_nulls_not_nan():
    gt = np.ones((3, 2, 2))
    pred = np.full((3, 2, 3), np.nan)
    s = summarize(gt, pred, ("a", "b"))
    assert s["detection_rate"] == 0.0
    assert s["mean_px"] is None and s["rmse_px"] is None
    assert s["mean_px_ci95"] == [None, None]
    assert s["pck"]["5"] == 0.0
    json.dumps(s, allow_nan=False)


def test_summarize_checks_keypoint_names():
    gt, pred = random_case(6)
    with pytest.raises(ValueError, match="keypoint names"):
        summarize(gt, pred, KEYPOINTS[:3])


def test_threshold_key():
    assert [threshold_key(t) for t in (2, 5.0, 2.5, 10)] == ["2", "5", "2.5", "10"]


def test_tidy_rows_names_and_values():
    gt, pred = random_case(7)
    gt[:, 3] = np.nan  # tail_base never labelled: its values are NaN rows, not missing rows
    s = summarize(gt, pred, KEYPOINTS, n_boot=100)
    rows = tidy_rows(s)
    overall = {m: v for kp, m, v in rows if kp == "all"}
    assert list(overall) == [
        "n_frames",
        "n_labeled",
        "detection_rate",
        "mean_px",
        "median_px",
        "rmse_px",
        "p90_px",
        "p95_px",
        "spread_ratio",
        "mean_px_ci95_low",
        "mean_px_ci95_high",
        "pck@2",
        "pck@5",
        "pck@10",
        "pck@20",
    ]
    assert overall["mean_px"] == s["mean_px"]
    assert overall["mean_px_ci95_low"] == s["mean_px_ci95"][0]
    assert overall["pck@10"] == s["pck"]["10"]
    for name in KEYPOINTS:
        per = {m: v for kp, m, v in rows if kp == name}
        overall_only = ("mean_px_ci95_low", "mean_px_ci95_high", "spread_ratio")
        assert list(per) == [m for m in overall if m not in overall_only]
    tail = {m: v for kp, m, v in rows if kp == "tail_base"}
    assert tail["n_labeled"] == 0 and math.isnan(tail["mean_px"]) and math.isnan(tail["pck@5"])
    assert all(isinstance(v, float) for _, _, v in rows)


# ----- evaluate() on the real open-field mouse labels -----


def labels_with_pandas(project):
    """The project's labels read independently of kpbench: ids and (n, k, 2) points."""
    df = pd.read_csv(
        project / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv",
        header=[0, 1, 2],
        index_col=0,
    )
    keypoints = list(df.columns.get_level_values("bodyparts").unique())
    points = df.to_numpy(dtype=float).reshape(len(df), len(keypoints), 2)
    return list(df.index), keypoints, points


def test_evaluate_openfield_mouse_against_numpy(openfield_mouse_dir, tmp_path):
    gt = read_dataset(openfield_mouse_dir, validate=False)
    ids, keypoints, points = labels_with_pandas(openfield_mouse_dir)
    assert list(gt.frame_ids) == ids and list(gt.keypoints) == keypoints
    assert gt.n_frames == 116

    rng = np.random.default_rng(0)
    pred = np.concatenate([points + rng.normal(0, 4, points.shape), rng.random((116, 4, 1))], -1)
    pred[rng.random((116, 4)) < 0.1, :2] = np.nan
    # As DeepLabCut's analyze_images writes it: absolute image paths, rows shuffled.
    order = rng.permutation(116)
    path = tmp_path / "image_predictions.csv"
    rows = [f"/home/user/openfield-Pranav/{ids[i]}" for i in order]
    write_dlc_predictions(path, rows, keypoints, pred[order], scorer="DLC_resnet50")

    (split,) = make_splits(gt, test_fraction=0.25, seed=1)
    out = evaluate(gt, path, test_frames=split.test, n_boot=500, seed=0)
    test_idx = [ids.index(f) for f in split.test]
    assert_metrics_equal(out, reference_metrics(points[test_idx], pred[test_idx]))
    for j, name in enumerate(keypoints):
        want = reference_metrics(points[test_idx, j : j + 1], pred[test_idx, j : j + 1])
        assert_metrics_equal(out["per_keypoint"][name], want)
    low, high = out["mean_px_ci95"]
    assert low < out["mean_px"] < high
    json.dumps(out, allow_nan=False)

    everything = evaluate(gt, path, n_boot=0)
    assert_metrics_equal(everything, reference_metrics(points, pred))
    assert everything["mean_px_ci95"] == [None, None]


def test_evaluate_missing_test_frame_is_an_error(openfield_mouse_dir, tmp_path):
    gt = read_dataset(openfield_mouse_dir, validate=False)
    path = tmp_path / "pred.h5"
    values = np.concatenate([gt.points, np.ones((116, 4, 1))], -1)
    write_dlc_predictions(path, gt.frame_ids[:-1], gt.keypoints, values[:-1])
    assert evaluate(gt, path, test_frames=gt.frame_ids[:10])["mean_px"] == 0.0
    with pytest.raises(InputError, match=re.escape(f"no prediction for frame {gt.frame_ids[-1]}")):
        evaluate(gt, path)


def test_the_metric_table_names_every_metric_of_a_summary_once() -> None:
    from benchmark.metrics import accuracy_metrics, metric, summarize

    gt = np.array([[[0.0, 0.0], [10.0, 0.0]]])
    pred = np.array([[[3.0, 4.0, 1.0], [np.nan, np.nan, 0.1]]])
    summary = summarize(gt, pred, ["a", "b"], thresholds=[5, 2.5], n_boot=0, miss_penalty=100.0)
    table = accuracy_metrics([5, 2.5])
    names = [m.name for m in table]
    assert names == [
        "mean_px_all", "mean_px", "median_px", "rmse_px", "p90_px", "p95_px", "pck@5", "pck@2.5",
        "detection_rate",
    ]  # fmt: skip
    values = {m.name: m.value(summary) for m in table}
    assert values["mean_px"] == 5.0 and values["detection_rate"] == 0.5
    assert values["mean_px_all"] == (5.0 + 100.0) / 2  # the miss counted at the penalty
    assert values["pck@5"] == 0.5 and values["pck@2.5"] == 0.0
    assert metric("pck@2.5").label == "PCK@2.5" and metric("pck@2.5").better == "higher"
    assert metric("median_px").unit == "px" and metric("median_px").better == "lower"
    with pytest.raises(KeyError):
        metric("accuracy")


def test_paired_difference_matches_a_hand_computation() -> None:
    from benchmark.metrics import paired_difference

    gt = np.zeros((3, 2, 2))
    gt[2, 1] = np.nan  # not labelled: never compared
    # A's errors: frame 0: 1, 2; frame 1: 3, miss; frame 2: 4. B's: 1, 1; 1, 1; 2.
    a = np.array([[[1, 0], [2, 0]], [[3, 0], [np.nan, np.nan]], [[4, 0], [9, 9]]], float)
    b = np.array([[[1, 0], [1, 0]], [[1, 0], [1, 0]], [[2, 0], [5, 5]]], float)
    # Both detected: (1-1) + (2-1) + (3-1) + (4-2) over 4 keypoints = 5 / 4.
    diff, low, high = paired_difference(gt, a, b, n_boot=0)
    assert diff == pytest.approx(5 / 4) and low is None and high is None
    # A miss counted at 50 px: (0 + 1 + 2 + (50 - 1) + 2) / 5.
    diff, *_ = paired_difference(gt, a, b, miss_penalty=50.0, n_boot=0)
    assert diff == pytest.approx(54 / 5)
    # The interval is seeded, ordered around the difference, and resamples whole frames:
    # every replicate is a mean of per-frame sums, so it lies within [0, 2].
    diff, low, high = paired_difference(gt, a, b, n_boot=500, seed=3)
    assert 0 <= low <= diff <= high <= 2
    assert paired_difference(gt, a, b, n_boot=500, seed=3) == (diff, low, high)


def test_identical_predictions_give_an_interval_around_zero() -> None:
    from benchmark.metrics import paired_difference

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (40, 4, 2))
    pred = np.concatenate([gt + rng.normal(0, 2, gt.shape), np.ones((40, 4, 1))], -1)
    diff, low, high = paired_difference(gt, pred, pred.copy())
    assert diff == 0.0 and low <= 0 <= high
    nothing = np.full_like(pred, np.nan)
    assert paired_difference(gt, nothing, pred) == (None, None, None)


def test_the_best_and_its_ties() -> None:
    from benchmark.metrics import tied_with_best

    means = {"a": 2.0, "b": 2.1, "c": 5.0, "d": float("nan")}
    intervals = {("b", "a"): (-0.2, 0.4), ("c", "a"): (2.5, 3.5)}
    best, ties = tied_with_best(means, lambda x, y: intervals[(x, y)])
    assert best == "a" and ties == ["b"]
    assert tied_with_best({"d": float("nan")}, lambda x, y: (0, 0)) == (None, [])


def test_scored_errors_count_misses_at_each_frames_penalty() -> None:
    from benchmark.metrics import miss_penalty_px, scored_errors

    gt = np.array([[[0.0, 0.0], [np.nan, np.nan]], [[0.0, 0.0], [1.0, 1.0]]])
    pred = np.array([[[3.0, 4.0, 1], [5.0, 5.0, 1]], [[np.nan, np.nan, 0], [1.0, 2.0, 1]]])
    penalty = miss_penalty_px([(6, 8), (60, 80)])
    np.testing.assert_allclose(penalty, [5.0, 50.0])
    got = scored_errors(gt, pred, penalty)
    np.testing.assert_allclose(got, [[5.0, np.nan], [50.0, 1.0]])  # unlabelled stays NaN


def test_apply_cutoff_makes_low_scores_misses_and_keeps_the_input() -> None:
    from benchmark.metrics import apply_cutoff

    pred = np.array([[[1.0, 2.0, 0.1], [3.0, 4.0, 0.9], [np.nan, np.nan, np.nan]]])
    cut = apply_cutoff(pred, 0.5)
    assert np.isnan(cut[0, 0, :2]).all() and (cut[0, 1, :2] == [3.0, 4.0]).all()
    assert cut[0, 0, 2] == 0.1 and pred[0, 0, 0] == 1.0
    np.testing.assert_array_equal(apply_cutoff(pred, None), pred)


def test_spread_ratio_tells_a_model_that_follows_the_animal_from_one_that_does_not():
    from benchmark.metrics import NO_LEARNING_SPREAD, spread_ratio

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 200, (20, 3, 2))  # the animal moves around a 200 px arena
    gt[3, 1] = np.nan  # unlabelled points are left out
    follows = gt + rng.normal(0, 3.0, gt.shape)
    assert spread_ratio(gt, follows) == pytest.approx(1.0, abs=0.1)
    stuck = np.broadcast_to(np.nanmean(gt, axis=0), gt.shape) + rng.normal(0, 1.0, gt.shape)
    assert spread_ratio(gt, stuck) < NO_LEARNING_SPREAD
    # Undetected points are left out too; nothing left, or labels that never move: None.
    assert spread_ratio(gt, np.full_like(gt, np.nan)) is None
    assert spread_ratio(np.ones((5, 2, 2)), np.ones((5, 2, 2))) is None
    summary = summarize(gt, stuck, ["a", "b", "c"], n_boot=0)
    assert summary["spread_ratio"] == spread_ratio(gt, stuck)
    assert ("all", "spread_ratio", summary["spread_ratio"]) in tidy_rows(summary)
