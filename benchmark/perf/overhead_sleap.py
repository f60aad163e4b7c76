"""Wall time of training SLEAP through kpbench's adapter versus calling sleap-nn directly.

    python -m benchmark.perf.overhead_sleap [--dataset PATH] [--epochs 5] [--repeats 1]

Both paths train the same single-instance model with the same sleap-nn config on the same
frames and split, in this one process (sleap-nn imported once, before any timing). The
direct path is what a sleap-nn user does with existing files: their ``train.pkg.slp``,
``val.pkg.slp`` and ``config.yaml`` (the very config the adapter builds, saved before
timing) are loaded and trained with ``ModelTrainer.get_model_trainer_from_config(config)
.train()``, as ``sleap-nn train --config`` does minus its post-training evaluation. The
adapter path is ``SleapAdapter.train`` as the harness times it, so its extra work (writing
the ``.pkg.slp`` files, building the config, the progress thread, the notes) is the
overhead. Runs go direct, adapter, adapter, direct per repeat so that drift on a shared
machine cancels. Prints the ratio of summed wall times (target <= 1.05), of the fastest
runs and of CPU time, and whether both paths reached the same final training loss.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmark.perf.overhead_dlc import load_frames, print_summary


def direct_train(config_yaml: Path) -> None:
    """Train from a sleap-nn config file with sleap-nn's Python API only."""
    from omegaconf import OmegaConf
    from sleap_nn.training.model_trainer import ModelTrainer

    ModelTrainer.get_model_trainer_from_config(OmegaConf.load(config_yaml)).train()


def final_loss(run_dir: Path) -> float:
    """The last epoch's training loss from sleap-nn's ``training_log.csv``."""
    with open(run_dir / "training_log.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("train/loss")]
    return float(rows[-1]["train/loss"]) if rows else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="labelled dataset (default: generated discs)")
    parser.add_argument("--frames", type=int, default=48, help="generated frames")
    parser.add_argument("--size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="direct/adapter/adapter/direct")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import sleap_nn.training.model_trainer  # noqa: F401  (imported once, before any timing)
    import torch
    from omegaconf import OmegaConf

    from adapters.sleap.adapter import MODEL_DIR, SleapAdapter, training_config
    from benchmark.io.sleap import write_pkg_slp

    torch.set_num_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="kpbench-overhead-sleap-"))
    try:
        train, test = load_frames(args, scratch)
        seed = 0
        cfg = SleapAdapter.resolve_config({"epochs": args.epochs, "pretrained": False})

        times: dict[str, list[float]] = {"direct": [], "adapter": []}
        cpu: dict[str, list[float]] = {"direct": [], "adapter": []}
        losses: dict[str, list[float]] = {"direct": [], "adapter": []}
        for r in range(args.repeats):
            for i, path in enumerate(("direct", "adapter", "adapter", "direct")):
                work = scratch / f"{path}-{r}-{i}"
                if path == "direct":
                    # The user's labels and config exist before they train: written untimed.
                    work.mkdir(parents=True)
                    train_path = write_pkg_slp(train, work / "train.pkg.slp")
                    val_path = write_pkg_slp(test, work / "val.pkg.slp")
                    config_yaml = work / "config.yaml"
                    sleap_cfg = training_config(
                        cfg,
                        train_path=train_path,
                        val_path=val_path,
                        ckpt_dir=work,
                        run_name=MODEL_DIR,
                        seed=seed,
                    )
                    OmegaConf.save(sleap_cfg, config_yaml)
                    start, cpu_start = time.perf_counter(), time.process_time()
                    direct_train(config_yaml)
                else:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    SleapAdapter(progress=lambda values: None).train(train, test, work, cfg, seed)
                times[path].append(time.perf_counter() - start)
                cpu[path].append(time.process_time() - cpu_start)
                losses[path].append(final_loss(work / MODEL_DIR))
                print(f"{path:8s} {times[path][-1]:8.2f} s  final loss {losses[path][-1]:.6f}")
                shutil.rmtree(work, ignore_errors=True)

        size = train.image_size()
        shape = f"{size[0]}x{size[1]}" if size else "of mixed sizes"
        print_summary(
            f"sleap-nn {cfg['backbone']} single-instance, {train.n_frames} train frames "
            f"{shape}, input scale {cfg['input_scale']}, "
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
