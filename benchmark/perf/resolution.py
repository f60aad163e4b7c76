"""Held-out check of the input-resolution rule (:mod:`benchmark.resolution`).

``python -m benchmark.perf.resolution OUT [--budget 60]`` builds two datasets with small,
close keypoints under ``OUT``, which nobody tuned on:

- ``blobs-wide``: 60 generated 320x240 frames of four coloured discs 5-6 px apart;
- ``mouse-far``: the carried open-field mouse scaled down to 160x120 (the mouse as a
  camera four times farther away would film it: ears about 3 px apart), when the carried
  data is found (``KPBENCH_DATA_MIRROR``).

It runs heatmap, SLEAP and DeepPoseKit at ``make bench``'s CPU profile on each, once with the
rule off (``resolution_from_data: false``, the profile's scale as given) and once with it on,
all with the same budget, and prints each job's mean and median error (px of the dataset's
frames) and the scale the notes record. One split, one seed: a check, not a ranking.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from PIL import Image

from benchmark.dataset import Dataset
from benchmark.io import read_dataset
from benchmark.io.dlc import write_dlc_project
from benchmark.synthetic.blobs import make_blob_dataset

#: ``make bench``'s CPU profiles (configs/default.yaml) of the adapters that scale frames down.
PROFILES: dict[str, dict[str, Any]] = {
    "heatmap": {},
    "sleap": {"epochs": 200, "input_scale": 0.25, "output_stride": 1, "sigma": 2.5, "filters": 32},
    "deepposekit": {"n_stacks": 2, "growth_rate": 32, "epochs": 200},
}


def scaled_down(ds: Dataset, factor: float, folder: Path, name: str) -> Dataset:
    """``ds`` with every frame resized by ``factor`` (labels moved with the pixel centres)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, src in enumerate(ds.image_paths):
        with Image.open(src) as im:
            size = (round(im.width * factor), round(im.height * factor))
            out = folder / f"img{i:04d}.png"
            im.convert("RGB").resize(size, Image.LANCZOS).save(out)
        paths.append(out.resolve())
    points = (ds.points + 0.5) * factor - 0.5
    return Dataset(
        name=name,
        skeleton=ds.skeleton,
        frame_ids=tuple(f"labeled-data/{name}/{p.name}" for p in paths),
        image_paths=tuple(paths),
        points=points,
        format="generated",
    )


def build(out: Path) -> dict[str, Path]:
    """The held-out datasets as DeepLabCut projects under ``out`` (name -> project)."""
    blobs = make_blob_dataset(
        out / "frames-blobs", n_frames=60, size=(320, 240), seed=11, missing_fraction=0.05
    )
    projects = {"blobs-wide": write_dlc_project(blobs, out / "blobs-wide")}
    mirror = os.environ.get("KPBENCH_DATA_MIRROR")
    mouse_dir = Path(mirror) / "dlc-openfield-mouse" if mirror else None
    if mouse_dir is not None and mouse_dir.is_dir():
        far = scaled_down(read_dataset(mouse_dir), 0.25, out / "frames-mouse", "mouse-far")
        projects["mouse-far"] = write_dlc_project(far, out / "mouse-far")
    return projects


def run_config(projects: dict[str, Path], budget_s: float) -> dict[str, Any]:
    """One run: every held-out dataset, each adapter with the rule off and on."""
    adapters = []
    for name, profile in PROFILES.items():
        off = {**profile, "resolution_from_data": False}
        adapters.append({"name": name, "label": f"{name}-as-given", "config": off})
        adapters.append({"name": name, "config": profile})
    return {
        "name": "resolution-check",
        "datasets": [{"name": n, "path": str(p)} for n, p in projects.items()],
        "split": {"test_fraction": 0.2, "val_fraction": 0.0, "seed": 0},
        "threads": 2,
        "budget": {"train_s": budget_s},
        "overlay_frames": 0,
        "adapters": adapters,
    }


def summary(run_dir: Path) -> pd.DataFrame:
    """Mean and median px over every keypoint, and the scale line of the notes, per job."""
    from benchmark.report.load import load_run

    results = load_run(run_dir)
    metrics = results.metrics
    rows = metrics[
        (metrics["keypoint"] == "all") & metrics["metric"].isin(["mean_px", "median_px"])
    ]
    table = rows.pivot_table(index=["dataset", "adapter"], columns="metric", values="value")
    notes = {
        (j.dataset, j.adapter): str((j.notes or {}).get("resolution", "")) for j in results.jobs
    }
    table["resolution"] = [notes.get(key, "") for key in table.index]
    return table


def main(argv: list[str] | None = None) -> None:
    """Build the held-out data, run the check, print the table."""
    from benchmark.runner.config import RunConfig
    from benchmark.runner.run import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the data and the run (created)")
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per job")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    projects = build(out / "data")
    config_path = out / "resolution-check.yaml"
    config_path.write_text(yaml.safe_dump(run_config(projects, args.budget), sort_keys=False))
    run(RunConfig.load(config_path), out / "run")
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(summary(out / "run").round(2).to_string())


if __name__ == "__main__":
    main()
