"""Letterboxing and augmentation shared by our PyTorch networks."""

from __future__ import annotations

import numpy as np
import torch

from adapters.torch_common import COMMON_DEFAULTS
from adapters.torch_common.engine import augment, flip_permutation, input_size, letterbox
from benchmark.dataset import Skeleton


def dot_image(w: int, h: int, points: list[tuple[float, float]]) -> np.ndarray:
    """A black image with a small bright Gaussian spot at each point."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w))
    for x, y in points:
        img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
    return np.repeat((np.clip(img, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)


def spot(channel: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre (x, y) of an image channel."""
    yy, xx = np.mgrid[0 : channel.shape[0], 0 : channel.shape[1]]
    weight = np.clip(channel - 0.3 * channel.max(), 0, None)
    return np.array([(xx * weight).sum(), (yy * weight).sum()]) / weight.sum()


def test_input_size_scales_the_largest_frame_to_a_multiple_of_32() -> None:
    config = {**COMMON_DEFAULTS, "scale": 0.5}
    assert input_size([(320, 240), (300, 250)], config) == (160, 128)
    assert input_size([(320, 240)], {**config, "input_size": [96, 80]}) == (96, 80)


def test_letterbox_maps_points_both_ways() -> None:
    point = (41.0, 17.0)
    canvas, place = letterbox(dot_image(120, 60, [point]), (64, 64))
    assert canvas.shape == (64, 64, 3)
    net = place.to_net(np.array(point))
    np.testing.assert_allclose(spot(canvas[..., 0].astype(float)), net, atol=0.3)
    np.testing.assert_allclose(place.to_orig(net), point, atol=1e-9)


def _augment_spots(config: dict, pts: np.ndarray, perm: np.ndarray, seed: int):
    """Augment one image per keypoint (holding only that keypoint's spot)."""
    images = torch.from_numpy(
        np.stack([dot_image(64, 48, [tuple(p)]).transpose(2, 0, 1) for p in pts])
    )
    points = np.repeat(pts[None], len(pts), axis=0)
    rng = np.random.default_rng(seed)
    out, moved = augment(images, points, {**COMMON_DEFAULTS, **config}, rng, perm)
    return [spot(out[k, 0].numpy()) for k in range(len(pts))], moved


PTS = np.array([[20.0, 30.0], [44.0, 30.0], [10.0, 12.0]])  # left_ear, right_ear, nose
PERM = flip_permutation(Skeleton(("left_ear", "right_ear", "nose")))


def test_augmentation_moves_points_with_the_image() -> None:
    for seed in range(3):
        found, moved = _augment_spots({"flip": False}, PTS, PERM, seed)
        for k in range(3):
            np.testing.assert_allclose(found[k], moved[k, k], atol=0.5)


def test_mirroring_swaps_left_and_right_labels() -> None:
    assert PERM.tolist() == [1, 0, 2]
    plain = {"rotation": 0.0, "zoom": 0.0, "translate": 0.0, "flip": True}
    mirrored_any = False
    for seed in range(6):
        found, moved = _augment_spots(plain, PTS, PERM, seed)
        for k in range(3):
            mirrored = moved[k, 2, 0] > 32  # sample k's nose (never swapped) changed side
            mirrored_any |= bool(mirrored)
            label = PERM[k] if mirrored else k  # image k's spot is now labelled PERM[k]
            np.testing.assert_allclose(found[k], moved[k, label], atol=0.5)
        # After a mirror the "left ear" label is the mirrored right ear: still on the left.
        assert (moved[:, 0, 0] < moved[:, 1, 0]).all()
    assert mirrored_any


def test_without_safe_pairs_flip_never_mirrors() -> None:
    lone = Skeleton(("eyeL", "nose", "tailL"))  # no partners: nothing may mirror
    assert flip_permutation(lone) is None
    plain = {"rotation": 0.0, "zoom": 0.0, "translate": 0.0, "flip": True}
    for seed in range(6):
        found, moved = _augment_spots(plain, PTS, None, seed)
        for k in range(3):
            np.testing.assert_allclose(moved[k], PTS, atol=1e-9)  # nothing moved, no swap
            np.testing.assert_allclose(found[k], PTS[k], atol=0.5)


def test_the_schedule_is_fitted_to_the_budget_from_the_mean_epoch_time() -> None:
    from adapters.torch_common.engine import planned_epochs

    assert planned_epochs(40, 0, 0.0, 600.0) == 40  # before the first epoch: `epochs`
    assert planned_epochs(40, 10, 30.0, None) == 40  # no budget (or not fitted): `epochs`
    assert planned_epochs(40, 10, 30.0, 600.0) == 200  # 3 s per epoch: 200 fit in 600 s
    assert planned_epochs(40, 10, 30.0, 20.0) == 10  # over the budget: ends now


def test_with_a_budget_our_network_trains_until_it_and_its_schedule_ends_there(
    tmp_path,
) -> None:
    """A 4 s budget and `epochs: 1000`: the plan shrinks to what fits, the learning rate has
    decayed at the end, and the notes say how the schedule was fitted. Fitting off: the
    budget stops the 1000-epoch schedule where it is."""
    import json

    from adapters.base import read_notes
    from adapters.heatmap_cnn.adapter import HeatmapAdapter
    from adapters.torch_common import MODEL_FILE
    from benchmark.budget import TrainingClock
    from tests.fixtures import make_blob_dataset

    ds = make_blob_dataset(tmp_path / "blobs", n_frames=16, seed=1)
    config = {"epochs": 1000, "filters": 8, "scale": 1.0}
    fitted = HeatmapAdapter(clock=TrainingClock(budget_s=4.0))
    meta = json.loads((fitted.train(ds, None, tmp_path / "a", config, 0) / MODEL_FILE).read_text())
    # The plan is what fits (the budget may still end the last planned epoch or two).
    assert 1 <= meta["epochs_run"] <= meta["epochs_planned"] < 1000
    assert read_notes(tmp_path / "a" / "model")["schedule"].startswith(
        f"cosine over {meta['epochs_planned']} epochs, fitted to the 4 s budget"
    )
    as_given = HeatmapAdapter(clock=TrainingClock(budget_s=4.0))
    off = {**config, "fit_schedule_to_budget": False}
    model = as_given.train(ds, None, tmp_path / "b", off, 0)
    meta = json.loads((model / MODEL_FILE).read_text())
    assert meta["epochs_planned"] == 1000 and as_given.clock.stopped_by_budget
    assert "schedule" not in read_notes(model)
