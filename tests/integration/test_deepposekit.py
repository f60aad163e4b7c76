"""DeepPoseKit in its own environment, through the runner, offline, on tiny generated frames.

Builds the ``deepposekit`` adapter environment when it is not built (uv; about 20 s from a
warm cache, under a minute cold), then runs one real training job next to nothing else, and
the conformance checks inside that environment.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from adapters.deepposekit.adapter import DeepPoseKitAdapter
from benchmark import envs
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.runner.config import AdapterSpec, DatasetSpec, RunConfig, SplitSpec
from benchmark.runner.run import run
from tests.fixtures import make_blob_dataset, write_video

pytestmark = pytest.mark.integration

# 64x48 frames at full size (padded to 64x64), a small StackedDenseNet, a few epochs; a
# cutoff above most confidences of so young a model (they stay near 0.1).
CONFIG = {"epochs": 6, "batch_size": 4, "growth_rate": 8, "sigma": 3.0, "threshold": 0.5}


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
    # Six epochs on 24 frames already find most discs (guessing gives ~20 px).
    assert job["metrics"]["median_px"] < 10
    assert not dpk_run["m"].query("adapter == 'deepposekit' and metric == 'mean_px'").empty


def test_low_confidence_points_are_returned_and_the_cutoff_is_the_harness_s(
    dpk_run: dict[str, Any],
) -> None:
    """Every point comes back with its confidence; ``threshold`` is DeepPoseKit's own cutoff,
    which the harness applies in its second set of metrics."""
    job = dpk_run["job"]
    pred = read_predictions(dpk_run["dir"] / "predictions.csv").values
    low = pred[..., 2] < CONFIG["threshold"]
    assert low.any() and np.isfinite(pred[low][:, :2]).all()
    assert job["score_cutoff"] == CONFIG["threshold"]
    own = job["metrics"]["own_cutoff"]
    assert own["score_cutoff"] == CONFIG["threshold"]
    assert job["metrics"]["detection_rate"] == 1.0
    assert own["detection_rate"] < 1.0


def test_frames_with_missing_labels_are_trained_on(dpk_run: dict[str, Any]) -> None:
    """Missing labels go to DeepPoseKit as NaN in annotated frames: no frame is dropped."""
    notes = dpk_run["job"]["notes"]
    assert notes["frames_used"] == 24 and notes["frames_dropped_unlabelled"] == 0
    assert notes["frames_used_with_missing_labels"] > 0
    assert notes["missing_labels_in_frames_used"] > 0
    with h5py.File(dpk_run["dir"] / "work" / "deepposekit" / "annotations.h5", "r") as f:
        annotations, annotated = f["annotations"][()], f["annotated"][()]
    assert annotations.shape[0] == 24 and annotated.all()
    assert np.isnan(annotations).any(axis=-1).sum() == notes["missing_labels_in_frames_used"]


def test_learning_curve_snapshots_predict(dpk_run: dict[str, Any]) -> None:
    """The worker predicted with every snapshot the clock asked for (loaded by ``load``)."""
    curve = dpk_run["job"]["curve"]
    assert len(curve) >= 3
    assert all(point["predictions"] and not point.get("error") for point in curve)
    epochs = [point["epoch"] for point in curve]
    assert epochs == sorted(epochs) and epochs[-1] < CONFIG["epochs"]


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


CONFORMANCE = """
import json, sys
from pathlib import Path
from benchmark.conformance import check_adapter, check_training_clock

config = json.loads(sys.argv[1])
root = Path(sys.argv[2])
preds = check_training_clock("deepposekit", config, root / "clock")
check_adapter("deepposekit", config, root / "adapter")
print(json.dumps({"n_curve": len(preds)}))
"""


def test_conformance_in_its_own_environment(tmp_path: Path) -> None:
    """The conformance suite, training protocol included, run by DeepPoseKit's interpreter."""
    spec = envs.spec_for(DeepPoseKitAdapter)
    assert spec is not None
    envs.ensure(spec)
    config = {"epochs": 4, "batch_size": 4, "growth_rate": 8, "sigma": 3.0, "max_size": 96}
    script = textwrap.dedent(CONFORMANCE)
    done = subprocess.run(
        [str(spec.interpreter), "-c", script, json.dumps(config), str(tmp_path)],
        env=envs.child_env(threads=1),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"n_curve": 4}
