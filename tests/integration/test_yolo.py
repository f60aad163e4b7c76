"""Ultralytics YOLO pose in its own environment, through the runner, offline, on tiny frames.

Builds the ``yolo`` adapter environment when it is not built (uv; a few seconds from a warm
cache: it shares the main environment's torch pair), then runs one real training job (which
also tracks the project's video), a job whose instance cutoff finds nothing, the conformance
checks and a training with every outbound connection refused inside that environment, and a
run config with a misspelt option. Every training is tiny (1 thread, imgsz 64-96). The
conversions and decisions without Ultralytics are unit-tested in
``tests/unit/adapters/test_yolo.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.yolo.adapter import YoloAdapter
from benchmark import envs
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import read_predictions
from benchmark.runner.config import AdapterSpec, DatasetSpec, RunConfig, SplitSpec
from benchmark.runner.run import run
from benchmark.splits import load_splits
from tests.fixtures import make_blob_dataset, write_video

pytestmark = pytest.mark.integration

# 64x48 frames seen at 96 px (three times the P3 grid of 32 px), no mosaic (a 24-frame set
# is too small for it to pay off in so few epochs), one optimizer step per batch.
CONFIG = {
    "epochs": 40,
    "imgsz": 96,
    "batch_size": 8,
    "nbs": 8,
    "mosaic": 0.0,
    "warmup_epochs": 1.0,
}


def _yolo_python() -> Path:
    """The yolo environment's interpreter (built when missing or stale)."""
    spec = envs.spec_for(YoloAdapter)
    assert spec is not None
    return envs.ensure(spec)


@pytest.fixture(scope="module")
def yolo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run of ``yolo`` on 30 generated frames (24 train, 6 test), 1 thread: one job that
    tracks the project's video (the same 30 frames as an mp4), and one whose instance
    cutoff (``conf: 1``) no box can pass."""
    _yolo_python()
    root = tmp_path_factory.mktemp("yolo")
    ds = make_blob_dataset(root / "blobs", n_frames=30, seed=3)
    project = write_dlc_project(ds, root / "project")
    write_video(ds, root / "project" / "videos" / "blobs.mp4")
    config = RunConfig(
        name="yolo",
        datasets=(DatasetSpec("blobs", str(project)),),
        adapters=(
            AdapterSpec("yolo", config=CONFIG, timeout_s=600),
            AdapterSpec("yolo", label="blind", config={**CONFIG, "epochs": 1, "conf": 1.0}),
        ),
        split=SplitSpec(test_fraction=0.2, seed=0),
        threads=1,
        track_videos=True,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        metrics = run(config, root / "run", quiet=True)
    jobs = {p.name.split("__")[2]: p for p in (root / "run" / "jobs").iterdir() if p.is_dir()}
    return {
        "dir": jobs["yolo"],
        "blind": jobs["blind"],
        "job": json.loads((jobs["yolo"] / "job.json").read_text()),
        "m": metrics,
        "ds": ds,
        "run": root / "run",
    }


def test_job_is_done_with_predictions_on_every_test_frame(yolo_run: dict[str, Any]) -> None:
    job = yolo_run["job"]
    assert job["status"] == "done", job["error"] + "\n" + job["stderr_tail"]
    (split,) = load_splits(yolo_run["run"] / "splits" / "blobs.json", yolo_run["ds"])
    pred = read_predictions(yolo_run["dir"] / "predictions.csv")
    assert list(pred.frame_ids) == list(split.test)
    assert pred.values.shape == (6, 4, 3)
    assert np.isfinite(pred.values[..., :2]).all()
    assert (pred.values[..., :2] > -1).all() and (pred.values[..., :2] < 64).all()
    # Guessing the frame centre is ~17 px off; the discs are found to a few pixels.
    assert job["metrics"]["median_px"] < 6, job["metrics"]
    assert not yolo_run["m"].query("adapter == 'yolo' and metric == 'mean_px'").empty


def test_trains_on_exactly_the_split_s_training_frames(yolo_run: dict[str, Any]) -> None:
    """The YOLO dataset holds the split's 24 training frames, each with its label file;
    Ultralytics validates on 16 of them (no val frames given), named in data.yaml."""
    (split,) = load_splits(yolo_run["run"] / "splits" / "blobs.json", yolo_run["ds"])
    data = yolo_run["dir"] / "work" / "yolo-data"
    # Links to the project's images, named by the frame ids' last parts (video/image).
    train_frames = {"/".join(Path(f).parts[-2:]) for f in split.train}

    def linked(part: str) -> set[str]:
        return {"/".join(p.resolve().parts[-2:]) for p in (data / "images" / part).iterdir()}

    assert linked("train") == train_frames and len(split.train) == 24
    labels = sorted((data / "labels" / "train").glob("*.txt"))
    assert len(labels) == 24
    for label in labels:
        values = np.array(label.read_text().split(), dtype=float)
        assert values.shape == (1 + 4 + 4 * 3,) and values[0] == 0
    assert (
        linked("val") <= train_frames and len(list((data / "labels" / "val").glob("*.txt"))) == 16
    )
    notes = yolo_run["job"]["notes"]
    assert notes["frames_used"] == 24 and notes["frames_dropped_unlabelled"] == 0
    assert notes["validation"] == "16 of the train frames (no val frames given)"
    assert notes["per_epoch_validation"].startswith("off")
    assert notes["mirroring"] == "on: left_ear<->right_ear (from names)"
    assert notes["pretrained"] is False and "random init" in notes["pretrained_reason"]


def test_an_instance_cutoff_nothing_passes_gives_nan_not_a_crash(yolo_run: dict[str, Any]) -> None:
    job = json.loads((yolo_run["blind"] / "job.json").read_text())
    assert job["status"] == "done", job["error"]
    pred = read_predictions(yolo_run["blind"] / "predictions.csv")
    assert pred.values.shape == (6, 4, 3) and np.isnan(pred.values).all()
    assert job["metrics"]["detection_rate"] == 0.0


def test_learning_curve_snapshots_predict(yolo_run: dict[str, Any]) -> None:
    """The worker predicted with every snapshot the clock asked for (loaded by ``load``)."""
    curve = yolo_run["job"]["curve"]
    assert len(curve) >= 3
    assert all(point["predictions"] and not point.get("error") for point in curve)
    epochs = [point["epoch"] for point in curve]
    assert epochs == sorted(epochs) and epochs[-1] < CONFIG["epochs"]


def test_runs_in_its_own_environment_with_settings_in_the_job(yolo_run: dict[str, Any]) -> None:
    env = yolo_run["job"]["environment"]
    spec = envs.spec_for(YoloAdapter)
    assert spec is not None
    assert Path(env["executable"]).parent.parent == spec.path
    assert env["ultralytics"] == spec.locked_version("ultralytics")
    assert env["opencv-python-headless"] == spec.locked_version("opencv-python-headless")
    assert yolo_run["job"]["framework_version"] == spec.locked_version("ultralytics")
    # Ultralytics kept its settings (and the stand-in font) in the job's folder.
    settings = yolo_run["dir"] / "work" / "ultralytics-config" / "Ultralytics"
    assert (settings / "settings.json").is_file() and (settings / "Arial.ttf").is_file()
    assert yolo_run["job"]["model"]["n_params"] > 100_000


def test_tracks_a_video_in_its_own_environment(yolo_run: dict[str, Any]) -> None:
    """The runner's `kpbench track` hands YOLO over to its own environment."""
    from benchmark.video.track import load_track

    record, values = load_track(yolo_run["run"] / "tracks" / "yolo__blobs")
    assert record.n_frames == 30
    assert (yolo_run["run"] / "tracks" / "yolo__blobs" / "labelled.mp4").stat().st_size
    # Frame i of the video is frame i of the dataset: the points land on its labels.
    err = np.linalg.norm(values[..., :2] - yolo_run["ds"].points, axis=-1)
    assert np.nanmedian(err) < 6


CONFORMANCE = """
import json, sys
from pathlib import Path
from benchmark.conformance import check_adapter, check_training_clock

config = json.loads(sys.argv[1])
root = Path(sys.argv[2])
preds = check_training_clock("yolo", config, root / "clock")
check_adapter("yolo", config, root / "adapter")
print(json.dumps({"n_curve": len(preds)}))
"""


def test_conformance_in_its_own_environment(tmp_path: Path) -> None:
    """The conformance suite, training protocol included, run by YOLO's interpreter."""
    config = {"epochs": 4, "imgsz": 96, "batch_size": 4}
    done = subprocess.run(
        [str(_yolo_python()), "-c", CONFORMANCE, json.dumps(config), str(tmp_path)],
        env=envs.child_env(threads=1),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # At least 3 snapshots, then the final model.
    assert json.loads(done.stdout.strip().splitlines()[-1])["n_curve"] >= 4


# Installed before anything else is imported: every outbound connection (and name lookup)
# is refused and recorded; local (Unix) sockets work as usual.
GUARDED = """
import json, socket, sys
from pathlib import Path

attempts = []
LOCAL = (None, "", "localhost", "127.0.0.1", "::1")


def refuse(what):
    attempts.append(what)
    raise ConnectionRefusedError(f"socket guard: {what}")


_connect, _connect_ex, _getaddrinfo = (
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
)


def connect(self, address):
    if self.family == socket.AF_UNIX:
        return _connect(self, address)
    refuse(f"connect {address!r}")


def connect_ex(self, address):
    if self.family == socket.AF_UNIX:
        return _connect_ex(self, address)
    refuse(f"connect_ex {address!r}")


def create_connection(address, *args, **kwargs):
    refuse(f"create_connection {address!r}")


def getaddrinfo(host, *args, **kwargs):
    if host not in LOCAL:
        attempts.append(f"getaddrinfo {host!r}")
        raise socket.gaierror(f"socket guard: getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo

root = Path(sys.argv[2])
try:
    from adapters.yolo.adapter import YoloAdapter
    from benchmark.conformance import conformance_dataset

    train, test = conformance_dataset(root / "data")
    adapter = YoloAdapter()
    config = YoloAdapter.resolve_config(json.loads(sys.argv[1]))
    model_dir = adapter.train(train, None, root / "work", config, 0)
    pred = adapter.load(model_dir, root / "work")(test)
    shape = list(pred.shape)
finally:
    (root / "attempts.json").write_text(json.dumps(attempts))
print(json.dumps({"shape": shape}))
"""


def test_trains_and_predicts_with_every_outbound_connection_refused(tmp_path: Path) -> None:
    """Offline by itself (no HF_HUB_OFFLINE here): nothing in training or prediction tries
    to reach the network (no weights, fonts, pip installs, update checks or telemetry)."""
    env = {k: v for k, v in envs.child_env(threads=1).items() if k != "HF_HUB_OFFLINE"}
    config = {"epochs": 2, "imgsz": 64, "batch_size": 4}
    done = subprocess.run(
        [str(_yolo_python()), "-c", GUARDED, json.dumps(config), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    attempts = json.loads((tmp_path / "attempts.json").read_text())
    assert attempts == [], attempts
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"shape": [4, 4, 3]}


def test_a_misspelt_option_is_one_clear_error_before_any_job(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: typo\ndatasets: [synthetic-rat]\n"
        "adapters:\n  - {name: yolo, config: {imgsize: 320}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", "run", str(config), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(config) in done.stderr and "imgsize" in done.stderr and "'imgsz'" in done.stderr
    assert not (tmp_path / "o" / "jobs").exists()
