"""DeepPoseKit in its own environment, through the runner, offline, on tiny generated frames.

Builds the ``deepposekit`` adapter environment when it is not built (uv; about 20 s from a
warm cache, under a minute cold), then runs one real training job next to nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.deepposekit.adapter import DeepPoseKitAdapter, skeleton_columns
from benchmark import envs
from benchmark.dataset import Skeleton
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.runner.config import AdapterSpec, DatasetSpec, RunConfig, SplitSpec
from benchmark.runner.run import run
from tests.fixtures import make_blob_dataset, write_video

pytestmark = pytest.mark.integration

# 64x48 frames at full size (padded to 64x64), a small StackedDenseNet, a few epochs.
CONFIG = {"epochs": 6, "batch_size": 4, "growth_rate": 8, "sigma": 3.0}


@pytest.fixture(scope="module")
def dpk_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A one-job run of ``deepposekit`` on 30 generated frames (24 train, 6 test), 1 thread,
    which then tracks the project's video (the same 30 frames as an mp4)."""
    spec = envs.spec_for(DeepPoseKitAdapter)
    assert spec is not None
    envs.ensure(spec)
    root = tmp_path_factory.mktemp("dpk")
    ds = make_blob_dataset(root / "blobs", n_frames=30, seed=3)
    project = write_dlc_project(ds, root / "project")
    write_video(ds, root / "project" / "videos" / "blobs.mp4")
    config = RunConfig(
        name="dpk",
        datasets=(DatasetSpec("blobs", str(project)),),
        adapters=(AdapterSpec("deepposekit", config=CONFIG, timeout_s=600),),
        split=SplitSpec(test_fraction=0.2, seed=0),
        threads=1,
        track_videos=True,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("NO_PROXY", "*")
        metrics = run(config, root / "run", quiet=True)
    job_dir = next((root / "run" / "jobs").iterdir())
    return {
        "dir": job_dir,
        "job": json.loads((job_dir / "job.json").read_text()),
        "m": metrics,
        "ds": ds,
        "run": root / "run",
    }


def test_job_is_done_with_predictions(dpk_run: dict[str, Any]) -> None:
    job = dpk_run["job"]
    assert job["status"] == "done", job["error"] + "\n" + job["stderr_tail"]
    pred = read_predictions(dpk_run["dir"] / "predictions.csv")
    assert pred.values.shape == (6, 4, 3)
    assert np.isfinite(pred.values[..., :2]).all()
    # Original pixels of the 64x48 frames (the network saw them padded to 64x64).
    assert (pred.values[..., :2] > -1).all() and (pred.values[..., :2] < 64).all()
    # Six epochs on 15 fully labelled frames already find most discs (guessing gives ~20 px).
    assert job["metrics"]["median_px"] < 10
    assert not dpk_run["m"].query("adapter == 'deepposekit' and metric == 'mean_px'").empty


def test_runs_in_its_own_environment(dpk_run: dict[str, Any]) -> None:
    env = dpk_run["job"]["environment"]
    spec = envs.spec_for(DeepPoseKitAdapter)
    assert spec is not None
    assert Path(env["executable"]).parent.parent == spec.path
    assert env["tensorflow"] == spec.locked_version("tensorflow")
    assert env["deepposekit"] == "0.3.9"
    assert env["numpy"].startswith("1.")
    assert env["torch"] is None
    assert dpk_run["job"]["framework_version"] == "0.3.9"


def test_tracks_a_video_in_its_own_environment(dpk_run: dict[str, Any]) -> None:
    """The runner's `kpbench track` hands DeepPoseKit over to its TensorFlow environment."""
    from benchmark.video.track import load_track

    record, values = load_track(dpk_run["run"] / "tracks" / "deepposekit__blobs")
    assert record.n_frames == 30 and record.timing.inference == "frames"
    assert (dpk_run["run"] / "tracks" / "deepposekit__blobs" / "labelled.mp4").stat().st_size
    # Frame i of the video is frame i of the dataset: the points land on its labels.
    err = np.linalg.norm(values[..., :2] - dpk_run["ds"].points, axis=-1)
    assert np.nanmedian(err) < 10


def test_model_was_saved_and_reloaded(dpk_run: dict[str, Any]) -> None:
    model_dir = dpk_run["dir"] / "work" / "model"
    assert (model_dir / "model.h5").stat().st_size > 0
    assert dpk_run["job"]["model"]["n_params"] > 1000
    assert dpk_run["job"]["timing"]["load_s"] > 0
    assert (dpk_run["dir"] / "work" / "deepposekit" / "annotations.h5").is_file()


def test_skeleton_columns_hold_parents_and_left_right_swaps() -> None:
    sk = Skeleton.from_names(
        ["snout", "left_ear", "right_ear", "tail"],
        [("snout", "left_ear"), ("snout", "right_ear"), ("snout", "tail")],
    )
    parents, swaps = skeleton_columns(sk)
    assert parents.tolist() == [-1, 0, 0, 0]
    assert swaps.tolist() == [-1, 2, 1, -1]
