"""Speed and memory of our own networks at their default input size.

``python -m benchmark.perf.cnn`` trains each network (``heatmap``, ``trackrat``) for a few
epochs on the synthetic rat (generated into the cache on first use) and prints, per network:
training seconds per epoch, prediction frames per second and the peak resident memory of the
process. Each network runs in its own subprocess so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmark.resources import peak_rss_mb

NETWORKS = ("heatmap", "trackrat")


def measure(network: str, dataset: str, epochs: int, threads: int) -> dict[str, Any]:
    """Train ``network`` for ``epochs`` on 80% of ``dataset``, predict the rest; time both.

    Seconds per epoch is the median gap between epoch-end progress reports (so loading the
    frames before epoch 1 is not counted); ``predict_fps`` is over the held-out frames after
    a one-frame warm-up, model loading excluded, as the harness measures it.
    """
    import torch

    from adapters.torch_common.engine import input_size
    from benchmark.datasets import load_dataset
    from benchmark.registry import load_class

    torch.set_num_threads(threads)
    data = load_dataset(dataset)
    n_train = round(data.n_frames * 0.8)
    train, test = data.subset(data.frame_ids[:n_train]), data.subset(data.frame_ids[n_train:])
    stamps: list[float] = []
    adapter_cls = load_class(network)
    adapter = adapter_cls(progress=lambda _: stamps.append(time.perf_counter()))
    config = adapter_cls.resolve_config({"epochs": epochs})
    with tempfile.TemporaryDirectory(prefix="kpbench-perf-") as tmp:
        start = time.perf_counter()
        model_dir = adapter.train(train, None, Path(tmp), config, seed=0)
        gaps = [b - a for a, b in zip([start, *stamps[:-1]], stamps, strict=True)]
        predictor = adapter.load(model_dir, Path(tmp))
        predictor(test.subset(test.frame_ids[:1]))
        t0 = time.perf_counter()
        predictor(test)
        predict_s = time.perf_counter() - t0
        info = adapter.model_info(model_dir)
    steady = sorted(gaps[1:] or gaps)
    return {
        "network": network,
        "dataset": dataset,
        "input_size": list(input_size(train.image_sizes(), config)),
        "train_frames": train.n_frames,
        "epochs": epochs,
        "train_s_per_epoch": steady[len(steady) // 2],
        "predict_fps": test.n_frames / predict_s,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": peak_rss_mb(children=False),
        "n_params": info["n_params"],
        "threads": threads,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each network in a subprocess and print a table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.perf.cnn", description=__doc__)
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--dataset", default="synthetic-rat")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to train (>= 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.dataset, args.epochs, args.threads)))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    rows = []
    for network in args.networks:
        cmd = [sys.executable, "-m", "benchmark.perf.cnn", "--child", network]
        cmd += ["--dataset", args.dataset, "--epochs", str(args.epochs)]
        cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{network}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            return 1
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(
        f"{'network':<10} {'input':>9} {'train s/epoch':>14} {'predict fps':>12} "
        f"{'peak MB':>8} {'params':>9}  ({rows[0]['dataset']}, {rows[0]['train_frames']} "
        f"train frames, {args.threads} threads)"
    )
    for r in rows:
        size = "x".join(str(v) for v in r["input_size"])
        print(
            f"{r['network']:<10} {size:>9} {r['train_s_per_epoch']:>14.2f} "
            f"{r['predict_fps']:>12.1f} {r['peak_rss_mb']:>8.0f} {r['n_params']:>9,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
