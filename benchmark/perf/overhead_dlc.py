"""Wall time of training DeepLabCut through kpbench's adapter versus calling DeepLabCut directly.

    python -m benchmark.perf.overhead_dlc [--dataset PATH] [--epochs 3] [--repeats 1]

Both paths train the same net on the same frames and split with the same
``pytorch_config.yaml`` changes, from the same seeded random-init snapshot (offline), in this
one process. The direct path is what a DeepLabCut user does with an existing project
(written before timing): set ``TrainingFraction``, ``create_training_dataset`` with the
split's indices, save a random-init ``PoseModel`` as a snapshot and ``train_network``. The
adapter path is ``DeepLabCutAdapter.train`` as the harness times it, so its extra work
(writing the project, mapping frame ids to DLC rows, checking DLC's split, choosing the
snapshot, writing notes) is the overhead. One untimed direct run warms caches first; then
runs go direct, adapter, adapter, direct per repeat so that drift on a shared machine
cancels. Prints the ratio of summed wall times (target <= 1.05), of the fastest runs, and of
summed CPU time (less sensitive to other load on the machine), and whether both paths
reached the same final training loss (they train identically).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.dataset import Dataset

TARGET = 1.05


def direct_train(
    config: Path,
    train_rows: list[int],
    test_rows: list[int],
    net_type: str,
    updates: Mapping[str, Any],
    seed: int,
) -> Path:
    """Train shuffle 1 of an existing DLC project with DeepLabCut's API only; returns its folder."""
    import deeplabcut
    from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict

    from adapters.deeplabcut.adapter import random_init

    fraction = round(len(train_rows) / (len(train_rows) + len(test_rows)), 2)
    deeplabcut.auxiliaryfunctions.edit_config(str(config), {"TrainingFraction": [fraction]})
    deeplabcut.create_training_dataset(
        str(config),
        Shuffles=[1],
        trainIndices=[train_rows],
        testIndices=[test_rows],
        net_type=net_type,
        engine=deeplabcut.Engine.PYTORCH,
        userfeedback=False,
    )
    folder = next((config.parent / "dlc-models-pytorch").glob("iteration-0/*shuffle1")) / "train"
    model_cfg = read_config_as_dict(folder / "pytorch_config.yaml")["model"]
    init = random_init(model_cfg, folder, seed)  # the adapter's: a seeded PoseModel, saved
    deeplabcut.train_network(
        str(config), shuffle=1, snapshot_path=str(init), pytorch_cfg_updates=dict(updates)
    )
    return folder


def final_loss(train_folder: Path) -> float:
    """The last epoch's training loss from DLC's ``learning_stats.csv``."""
    stats = pd.read_csv(train_folder / "learning_stats.csv")
    return float(stats["losses/train.total_loss"].iloc[-1])


def load_frames(args: argparse.Namespace, scratch: Path) -> tuple[Dataset, Dataset]:
    """Train and test frames: a dataset on disk, or generated discs."""
    from benchmark.splits import make_splits

    if args.dataset:
        from benchmark.io import read_dataset

        ds = read_dataset(args.dataset)
    else:
        from benchmark.synthetic.blobs import make_blob_dataset

        ds = make_blob_dataset(scratch / "data", n_frames=args.frames, size=tuple(args.size))
    split = make_splits(ds, test_fraction=0.25, seed=0)[0]
    return ds.subset(split.train), ds.subset(split.test)


def print_summary(
    heading: str,
    times: Mapping[str, list[float]],
    cpu: Mapping[str, list[float]],
    losses: Mapping[str, list[float]],
) -> None:
    """Print totals per path, the wall-time ratio against ``TARGET``, the fastest-run and
    CPU-time ratios, and whether both paths reached the same final loss."""
    ratio = sum(times["adapter"]) / sum(times["direct"])
    same = np.allclose(losses["adapter"], losses["direct"], rtol=1e-5)
    print(f"\n{heading}")
    for path in ("direct", "adapter"):
        print(f"{path:8s} total wall {sum(times[path]):.2f} s, cpu {sum(cpu[path]):.2f} s")
    verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
    print(f"wall-time ratio adapter/direct = {ratio:.3f} (target <= {TARGET}): {verdict}")
    print(f"fastest-run wall ratio = {min(times['adapter']) / min(times['direct']):.3f}")
    print(f"cpu-time ratio adapter/direct = {sum(cpu['adapter']) / sum(cpu['direct']):.3f}")
    print(f"same final training loss on both paths: {same}")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="labelled dataset (default: generated discs)")
    parser.add_argument("--frames", type=int, default=32, help="generated frames")
    parser.add_argument("--size", type=int, nargs=2, default=(128, 96), metavar=("W", "H"))
    parser.add_argument("--net-type", default="resnet_50")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="direct/adapter/adapter/direct")
    parser.add_argument("--warmup", type=int, default=1, help="untimed direct runs first")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import deeplabcut  # noqa: F401  (imported once, before any timing)
    import torch

    from adapters.deeplabcut.adapter import (
        DeepLabCutAdapter,
        auto_crop,
        concat_frames,
        dlc_rows,
        pytorch_updates,
    )
    from benchmark.io.dlc import dlc_image_paths, write_dlc_project

    torch.set_num_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="kpbench-overhead-dlc-"))
    try:
        train, test = load_frames(args, scratch)
        frames = concat_frames(train, test)
        crop = auto_crop(frames)
        seed = 0
        adapter_config = {
            "net_type": args.net_type,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "device": "cpu",
            "pretrained": False,
            "train_crop": crop,
        }
        # The very pytorch_config.yaml changes the adapter makes.
        updates = pytorch_updates(frames, DeepLabCutAdapter.resolve_config(adapter_config), seed)
        rows = dlc_rows(dlc_image_paths(frames))
        train_rows, test_rows = rows[: train.n_frames], rows[train.n_frames :]

        times: dict[str, list[float]] = {"direct": [], "adapter": []}
        cpu: dict[str, list[float]] = {"direct": [], "adapter": []}
        losses: dict[str, list[float]] = {"direct": [], "adapter": []}
        order = [("warm-up", "direct")] * args.warmup + [
            (str(r), path)
            for r in range(args.repeats)
            for path in ("direct", "adapter", "adapter", "direct")
        ]
        for i, (run, path) in enumerate(order):
            work = scratch / f"{path}-{i}"
            if path == "direct":
                # The user's project exists before they train: written outside timing.
                config = write_dlc_project(frames, work, images="symlink", task="blobs")
                start, cpu_start = time.perf_counter(), time.process_time()
                folder = direct_train(config, train_rows, test_rows, args.net_type, updates, seed)
            else:
                start, cpu_start = time.perf_counter(), time.process_time()
                project = DeepLabCutAdapter().train(train, test, work, adapter_config, seed)
                folder = next(project.glob("dlc-models-pytorch/iteration-0/*/train"))
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            loss = final_loss(folder)
            shutil.rmtree(work, ignore_errors=True)
            print(
                f"{run:8s} {path:8s} wall {seconds:7.2f} s  cpu {cpu_seconds:7.2f} s  "
                f"final loss {loss:.6f}",
                flush=True,
            )
            if run != "warm-up":
                times[path].append(seconds)
                cpu[path].append(cpu_seconds)
                losses[path].append(loss)

        print_summary(
            f"DeepLabCut {args.net_type}, {train.n_frames} train frames {crop[0]}x{crop[1]}, "
            f"{args.epochs} epochs, {args.threads} thread(s), {2 * args.repeats} runs each",
            times,
            cpu,
            losses,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
