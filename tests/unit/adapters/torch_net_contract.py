"""Checks every one of our PyTorch networks must pass; subclassed per network.

The data is the blob fixture: 32 frames of 64x48 px with 4 coloured discs (about 10% of the
points unlabelled); the first 24 frames train, the last 8 are the test frames. Networks are
shrunk through their config so that every training takes a second or two on one thread.
"""

from __future__ import annotations

import importlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

from adapters.base import ConfigError, read_notes
from adapters.torch_common import MODEL_FILE, TorchNetAdapter
from benchmark.dataset import Dataset, Skeleton
from benchmark.images import read_image
from tests.fixtures import make_blob_dataset, mixed_size_blobs


def median_error(pred: np.ndarray, truth: Dataset) -> float:
    """Median pixel error over labelled points (undetected points count as infinitely far)."""
    err = np.linalg.norm(pred[..., :2] - truth.points, axis=-1)[truth.labeled]
    return float(np.median(np.where(np.isnan(err), np.inf, err)))


class TorchNetContract:
    """Shape, pixel space, missing labels, determinism and save/load of one network."""

    adapter_cls: ClassVar[type[TorchNetAdapter]]
    #: Small and quick settings for the blob data.
    fast: ClassVar[dict[str, Any]]
    #: Median error (px) the trained network must beat on the blob test frames.
    max_median_px: ClassVar[float]
    #: Tolerance (px of the 2x frame) for the prediction on a 2x copy of a test frame.
    scale_atol_px: ClassVar[float] = 4.0

    @pytest.fixture(scope="class")
    @classmethod
    def blobs(cls, tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Dataset]:
        data = make_blob_dataset(tmp_path_factory.mktemp("blobs"), n_frames=32, seed=3)
        return data.subset(data.frame_ids[:24]), data.subset(data.frame_ids[24:])

    @pytest.fixture(scope="class")
    @classmethod
    def trained(
        cls, blobs: tuple[Dataset, Dataset], tmp_path_factory: pytest.TempPathFactory
    ) -> tuple[TorchNetAdapter, Path, list[dict]]:
        train, _ = blobs
        progress: list[dict] = []
        adapter = cls.adapter_cls(progress=progress.append)
        val = train.subset(train.frame_ids[-4:])
        model_dir = adapter.train(train, val, tmp_path_factory.mktemp("w"), cls.fast, seed=0)
        return adapter, model_dir, progress

    def test_predicts_n_k_3_in_original_pixels(self, trained, blobs, tmp_path: Path) -> None:
        adapter, model_dir, _ = trained
        train, test = blobs
        pred = adapter.load(model_dir, tmp_path)(test)
        assert pred.shape == (test.n_frames, test.n_keypoints, 3)
        # One epoch at a negligible learning rate: the weights stay as initialised (epochs
        # must be >= 1: an option that trains nothing is refused).
        untrained_cfg = {**self.fast, "epochs": 1, "lr": 1e-12}
        # A fresh instance: the class fixture's adapter records its own training's progress.
        untrained = self.adapter_cls().train(train, None, tmp_path, untrained_cfg, seed=0)
        before = median_error(adapter.predict(untrained, test, tmp_path), test)
        after = median_error(pred, test)
        assert after < self.max_median_px
        assert after < before / 2

    def test_larger_copy_of_a_frame_gives_scaled_coordinates(self, trained, blobs, tmp_path):
        adapter, model_dir, _ = trained
        test = blobs[1]
        image = read_image(test.image_paths[int(np.flatnonzero(test.labeled.all(axis=1))[0])])
        h, w = image.shape[:2]
        big = np.asarray(Image.fromarray(image).resize((2 * w, 2 * h), Image.BILINEAR))
        small_pred, big_pred = adapter.load(model_dir, tmp_path).predict_images([image, big])
        assert np.isfinite(small_pred[:, :2]).all()
        expected = (small_pred[:, :2] + 0.5) * 2 - 0.5  # pixel centres at integers
        # The tolerance allows for resampling; coordinates left in network pixels would be
        # off by the coordinates themselves (tens of pixels), far more than any tolerance.
        np.testing.assert_allclose(big_pred[:, :2], expected, atol=self.scale_atol_px)
        assert np.abs(big_pred[:, :2] - small_pred[:, :2]).max() > 3 * self.scale_atol_px

    def test_filters_and_depth_set_the_capacity(self) -> None:
        import torch

        model = importlib.import_module(self.adapter_cls.model_module)
        base = self.adapter_cls.resolve_config({})
        depth = base["depth"]

        def built(**options: int) -> tuple[int, tuple[int, ...]]:
            net = model.build(self.adapter_cls.resolve_config(options), 4).eval()
            with torch.no_grad():
                out = net(torch.zeros(1, 3, 64, 96))
            return sum(p.numel() for p in net.parameters()), tuple(out.shape)

        (n, shape), (deeper, deeper_shape) = built(), built(depth=depth + 1)
        assert deeper > n > built(depth=depth - 1)[0] and built(filters=2 * base["filters"])[0] > n
        assert deeper_shape == shape  # the output does not depend on the capacity
        with pytest.raises(ConfigError, match="'depth'"):
            self.adapter_cls.resolve_config({"depth": 9})

    def test_progress_and_model_files(self, trained) -> None:
        adapter, model_dir, progress = trained
        epochs = self.fast["epochs"]
        assert [p["epoch"] for p in progress] == list(range(1, epochs + 1))
        assert all(p["epochs"] == epochs and np.isfinite(p["loss"]) for p in progress)
        assert any("val_loss" in p for p in progress)
        meta = json.loads((model_dir / MODEL_FILE).read_text())
        assert meta["keypoints"] == ["snout", "left_ear", "right_ear", "tail_base"]
        assert meta["config"] == self.adapter_cls.resolve_config(self.fast)
        info = adapter.model_info(model_dir)
        assert info["n_params"] > 0 and info["model_mb"] > 0

    def test_save_load_round_trip(self, trained, blobs, tmp_path: Path) -> None:
        adapter, model_dir, _ = trained
        moved = shutil.copytree(model_dir, tmp_path / "moved")
        first = adapter.load(model_dir, tmp_path)(blobs[1])
        again = self.adapter_cls().load(moved, tmp_path)(blobs[1])
        np.testing.assert_array_equal(first, again)

    def test_a_model_saved_before_the_width_rename_still_loads(self, trained, blobs, tmp_path):
        adapter, model_dir, _ = trained
        old = shutil.copytree(model_dir, tmp_path / "old")
        meta = json.loads((old / MODEL_FILE).read_text())
        # As written before ``filters`` (then ``width``) and ``depth`` existed.
        meta["config"]["width"] = meta["config"].pop("filters")
        del meta["config"]["depth"]
        (old / MODEL_FILE).write_text(json.dumps(meta))
        expected = adapter.load(model_dir, tmp_path)(blobs[1])
        np.testing.assert_array_equal(self.adapter_cls().load(old, tmp_path)(blobs[1]), expected)

    def test_all_nan_keypoint_and_missing_labels_train(self, blobs, tmp_path: Path) -> None:
        train, test = blobs
        points = train.points.copy()
        points[:, 3] = np.nan  # tail_base never labelled
        sparse = train.with_points(points)
        progress: list[dict] = []
        adapter = self.adapter_cls(progress=progress.append)
        model_dir = adapter.train(sparse, None, tmp_path, {**self.fast, "epochs": 2}, seed=1)
        pred = adapter.load(model_dir, tmp_path)(test)
        assert pred.shape == (test.n_frames, 4, 3)
        assert all(np.isfinite(p["loss"]) for p in progress)

    def test_notes_say_whether_training_mirrors_and_why_not(self, blobs, tmp_path: Path) -> None:
        train, _ = blobs
        config = {**self.fast, "epochs": 1}
        on = self.adapter_cls().train(train, None, tmp_path / "on", config, seed=0)
        assert read_notes(on)["mirroring"] == "on: left_ear<->right_ear (from names)"
        names = ("snout", "eyeL", "eyeR", "tailL")  # tailL: a side without a partner
        lone = replace(train, skeleton=Skeleton(names, train.skeleton.edges))
        off = self.adapter_cls().train(lone, None, tmp_path / "off", config, seed=0)
        assert read_notes(off)["mirroring"] == (
            "off: keypoint 'tailL' marks a side but has no partner"
        )
        unasked = self.adapter_cls().train(
            train, None, tmp_path / "no", {**config, "flip": False}, 0
        )
        assert read_notes(unasked)["mirroring"] == "off: the flip option is off"

    def test_same_seed_gives_identical_predictions(self, blobs, tmp_path: Path) -> None:
        train, test = blobs
        config = {**self.fast, "epochs": 2}
        runs = []
        for i, seed in enumerate([7, 7, 8]):
            model_dir = self.adapter_cls().train(train, None, tmp_path / str(i), config, seed)
            runs.append(self.adapter_cls().predict(model_dir, test, tmp_path))
        np.testing.assert_array_equal(runs[0], runs[1])
        assert not np.array_equal(runs[0], runs[2], equal_nan=True)

    def test_frames_of_different_sizes_train(self, tmp_path: Path) -> None:
        mixed = mixed_size_blobs(tmp_path, (64, 48), (48, 64))
        adapter = self.adapter_cls()
        model_dir = adapter.train(mixed, None, tmp_path / "w", {**self.fast, "epochs": 1}, 0)
        pred = adapter.predict(model_dir, mixed, tmp_path)
        assert pred.shape == (12, 4, 3)

    def test_small_close_keypoints_raise_the_input_resolution(self, tmp_path: Path) -> None:
        # Discs 5-6 px apart on frames of two sizes, a 13 px "animal": at a quarter scale
        # the rule (benchmark.resolution) raises the scale to its bound, 0.5.
        mixed = mixed_size_blobs(tmp_path, (256, 192), (192, 256))
        config = {**self.fast, "epochs": 1, "scale": 0.25}
        adapter = self.adapter_cls()
        raised = adapter.train(mixed, None, tmp_path / "raised", config, 0)
        meta = json.loads((raised / MODEL_FILE).read_text())
        assert meta["input_size"] == [128, 128]
        assert read_notes(raised)["resolution"].startswith("input scale raised from 0.25 to 0.5")
        assert adapter.predict(raised, mixed, tmp_path).shape == (12, 4, 3)
        as_given = {**config, "resolution_from_data": False}
        kept = adapter.train(mixed, None, tmp_path / "kept", as_given, 0)
        assert json.loads((kept / MODEL_FILE).read_text())["input_size"] == [64, 64]
        assert "resolution" not in read_notes(kept)
