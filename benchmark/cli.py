"""The ``kpbench`` command line (stable: tests and users call it; see DESIGN.md)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from benchmark.errors import (
    DiskFullError,
    InputError,
    KpbenchError,
    SubmitError,
    is_no_space,
)
from benchmark.metrics import DEFAULT_THRESHOLDS

#: Exit codes (README, "Bad input"): 0 success; 1 a run finished but some of its jobs failed
#: (the others' results are kept), or a cluster refused a job; 2 bad input, nothing written;
#: 3 the disk filled up (what finished before is kept); 130 interrupted (Ctrl-C, or SIGTERM
#: to ``kpbench run``).
EXIT_JOBS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_SPACE = 3
EXIT_INTERRUPTED = 130


def _cmd_info(args: argparse.Namespace) -> int:
    from benchmark.io import read_dataset
    from benchmark.resolution import MIN_ANIMAL_PX, MIN_SEPARATION_PX

    summary = read_dataset(args.path).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    size = summary["image_size"]
    print(f"dataset     {summary['name']} ({summary['format']})")
    print(f"frames      {summary['n_frames']}")
    print(f"keypoints   {len(summary['keypoints'])}: {', '.join(summary['keypoints'])}")
    print(f"labelled    {summary['n_labeled']} points, {summary['n_missing']} missing")
    if size:
        print(f"image size  {size[0]}x{size[1]}")
    else:
        sizes = [
            f"{s['size'][0]}x{s['size'][1]} ({s['frames']} frame{'s' * (s['frames'] != 1)})"
            for s in summary["image_sizes"]
        ]
        more = f", and {len(sizes) - 4} more sizes" if len(sizes) > 4 else ""
        print(f"image size  mixed: {', '.join(sizes[:4])}{more}")
    pairs = summary["flip_pairs"]
    if pairs:
        source = "from names" if summary["flip_pairs_source"] == "names" else "declared"
        print(f"mirroring   {', '.join(f'{a}<->{b}' for a, b in pairs)} ({source})")
    else:
        print(f"mirroring   none ({summary['flip_off_reason']})")
    separation, animal = summary["keypoint_separation_px"], summary["animal_size_px"]
    if separation is not None and animal is not None:
        needed = max(MIN_SEPARATION_PX / separation, MIN_ANIMAL_PX / animal)
        print(
            f"geometry    keypoints {separation:.1f} px apart, animal {animal:.0f} px across: "
            f"needs input scale {needed:.2f} or more (docs/cpu-defaults.md)"
        )
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from benchmark.io import read_dataset
    from benchmark.splits import make_splits, save_splits

    ds = read_dataset(args.path)
    try:
        splits = make_splits(
            ds,
            test_fraction=args.test_fraction,
            val_fraction=args.val_fraction,
            seed=args.seed,
            folds=args.folds,
        )
    except ValueError as exc:
        raise KpbenchError(f"{args.path}: {exc}") from None
    save_splits(splits, args.out)
    for s in splits:
        print(
            f"fold {s.fold}: {len(s.train)} train, {len(s.val)} val, {len(s.test)} test",
            file=sys.stderr,
        )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from benchmark.io import read_dataset
    from benchmark.metrics import accuracy_metrics, evaluate
    from benchmark.splits import load_splits

    gt = read_dataset(args.gt)
    test_frames = None
    if args.split:
        splits = load_splits(args.split, gt)
        if not 0 <= args.fold < len(splits):
            raise InputError(
                args.split, f"has folds 0 to {len(splits) - 1}; --fold {args.fold} is not one"
            )
        test_frames = splits[args.fold].test
    result = evaluate(gt, Path(args.pred), test_frames=test_frames, thresholds=args.thresholds)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"frames {result['n_frames']}, labelled points {result['n_labeled']}")
    for m in accuracy_metrics(args.thresholds):
        print(f"{m.name:15s} {_fmt(m.value(result))}")
        if m.name == "mean_px":
            low, high = result["mean_px_ci95"]
            print(f"{'mean_px_ci95':15s} [{_fmt(low)}, {_fmt(high)}]")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cmd_datasets(args: argparse.Namespace) -> int:
    from benchmark import datasets

    if args.action == "list":
        rows = datasets.datasets_table()
        cols = ["name", "species", "frames", "keypoints", "licence", "present"]
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
        print("  ".join(c.ljust(widths[c]) for c in cols))
        for r in rows:
            print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    elif args.action == "fetch":
        print(datasets.fetch(args.name))
    elif args.action == "path":
        print(datasets.dataset_path(args.name))
    elif args.action == "preview":
        print(datasets.preview(args.name, Path(args.out)))
    return 0


def _cmd_adapters(args: argparse.Namespace) -> int:
    from benchmark.envs import spec_for
    from benchmark.registry import load_class, registered

    rows = []
    for name, target in registered().items():
        environment = "main"
        try:
            cls = load_class(name)
            ok, why = cls.available()
            version = cls.version() or "-"
            if (spec := spec_for(cls)) is not None:  # runs in its own environment
                status = spec.status()
                environment = f"{spec.name} ({status})"
                ok = status == "built"
                why = f"environment {status}: kpbench env create {spec.name}"
                version = spec.locked_version(cls.framework or "") or version
        except (ImportError, KpbenchError) as exc:
            ok, why, version = False, f"cannot import: {exc}", "-"
        rows.append((name, version, "yes" if ok else f"no ({why})", environment, target))
    width = max(len("runs here"), *(len(r[2]) for r in rows))
    print(f"{'adapter':12s} {'version':10s} {'runs here':{width}s} {'environment':24s} target")
    for name, version, ok, environment, target in rows:
        print(f"{name:12s} {version:10s} {ok:{width}s} {environment:24s} {target}")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    from benchmark import envs

    if args.action == "list":
        specs = envs.declared()
        print(f"{'environment':14s} {'status':8s} {'python':7s} path")
        for name, spec in sorted(specs.items()):
            status, why = spec.checked_status()
            note = f"  ({why})" if why else ""
            print(f"{name:14s} {status:8s} {spec.python:7s} {spec.path}{note}")
        return 0
    spec = envs.find(args.name)
    if args.action == "remove":
        if not spec.path.exists():
            nothing = f"environment {spec.name} is not built (nothing at {spec.path})"
            warnings.warn(nothing, stacklevel=1)
            return 0
        envs.remove(spec)
        print(f"removed {spec.path}")
        return 0
    if spec.status() == "built" and not args.force:
        print(f"{spec.interpreter} (up to date)")
        return 0
    print(envs.create(spec, force=args.force))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from benchmark.runner.config import RunConfig, with_executor
    from benchmark.runner.run import job_counts, run

    _terminate_as_interrupt()
    config = RunConfig.load(args.config)
    if args.executor:
        config = with_executor(config, args.executor)
    out = (Path(args.out) if args.out else Path("runs") / config.name).resolve()
    try:
        run(config, out, quiet=args.quiet)
    except KeyboardInterrupt:
        done = len(job_counts(out).get("done", []))
        again = f" --executor {args.executor}" if args.executor else ""
        print(
            f"kpbench: interrupted; {done} finished job(s) are kept in {out}; run the same "
            f"command again to resume: kpbench run {args.config} --out {out}{again}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    counts = job_counts(out)
    summary = ", ".join(f"{len(ids)} {status}" for status, ids in sorted(counts.items()))
    print(f"run directory: {out} (jobs: {summary or 'none'})")
    failed = counts.get("failed", [])
    if failed:
        print(
            f"kpbench: {len(failed)} job(s) failed: {', '.join(failed)} "
            f"(errors in {out / 'jobs'}/<job>/job.json)",
            file=sys.stderr,
        )
        return EXIT_JOBS_FAILED
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from benchmark.report import render_report

    out = render_report(Path(args.run_dir), Path(args.out) if args.out else None)
    print(out)
    return 0


def _cmd_track(args: argparse.Namespace) -> int:
    from benchmark.video import compare_videos, track_video

    options = {
        "dataset": args.dataset,
        "chunk_size": args.chunk_size,
        "min_score": args.min_score,
        "threads": args.threads,
        "progress": not args.quiet,
    }
    if args.compare:
        adapters = [a.strip() for a in args.compare.split(",") if a.strip()]
        print(compare_videos(args.run_dir, adapters, args.video, out=args.out, **options))
        return 0
    if not args.adapter:
        raise KpbenchError("track: give --adapter NAME (or --compare A,B)")
    record = track_video(
        args.run_dir, args.adapter, args.video, out=args.out, csv=args.csv, **options
    )
    timing, temporal = record.timing, record.temporal
    print(
        f"{record.n_frames} frames at {timing.end_to_end_fps or 0:.1f} frames/s end to end; "
        f"jitter {_fmt(temporal['jitter_px'])} px, missing {temporal['missing_share']:.1%}"
    )
    print(Path(args.run_dir) / "tracks" / f"{args.adapter}__{Path(args.video).stem}")
    return 0


def _terminate_as_interrupt() -> None:
    """Make SIGTERM (``kill``, a scheduler ending the job) stop this process as Ctrl-C does,
    with a KeyboardInterrupt: the running job's worker is stopped, finished jobs are kept, and
    ``kpbench run`` exits 130 with its resume hint."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``kpbench`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="kpbench", description="Benchmark animal pose-estimation frameworks."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="frames, keypoints, labelled/missing counts, image size")
    p.add_argument("path", help="DeepLabCut project, CollectedData csv/h5, .slp or COCO json")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("split", help="make a seeded train/val/test (or k-fold) split file")
    p.add_argument("path", help="any readable dataset (see info)")
    p.add_argument(
        "--test-fraction", type=float, default=0.2, help="share of frames to test on (0.2)"
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="share of frames to validate on (0; with --folds, of each fold's non-test frames)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle (0)")
    p.add_argument(
        "--folds", type=int, default=None, help="k-fold cross-validation with K folds instead"
    )
    p.add_argument("--out", required=True, type=Path, help="split file to write (JSON)")
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser("evaluate", help="metrics of a prediction file against ground truth")
    p.add_argument("--gt", required=True, help="any readable dataset")
    p.add_argument("--pred", required=True, help="DLC-style predictions (csv/h5) or .slp")
    p.add_argument("--split", help="evaluate only the test frames of this split file")
    p.add_argument("--fold", type=int, default=0, help="fold of a k-fold split file")
    p.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=list(DEFAULT_THRESHOLDS),
        help="PCK thresholds (px)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("datasets", help="list, fetch, locate or preview registered datasets")
    dsub = p.add_subparsers(dest="action", required=True)
    dsub.add_parser("list")
    for action in ("fetch", "path", "preview"):
        q = dsub.add_parser(action)
        q.add_argument("name")
        if action == "preview":
            q.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("adapters", help="registered adapters and whether they run here")
    asub = p.add_subparsers(dest="action", required=True)
    asub.add_parser("list")
    p.set_defaults(func=_cmd_adapters)

    p = sub.add_parser("env", help="adapter environments: list, create (build with uv), remove")
    esub = p.add_subparsers(dest="action", required=True)
    esub.add_parser("list")
    q = esub.add_parser("create", help="build (or rebuild when its lock changed)")
    q.add_argument("name", help="environment or adapter name")
    q.add_argument("--force", action="store_true", help="rebuild even when up to date")
    q = esub.add_parser("remove")
    q.add_argument("name", help="environment or adapter name")
    p.set_defaults(func=_cmd_env)

    p = sub.add_parser(
        "run",
        help="run a benchmark config (resumes when --out is its run)",
        description="Train and evaluate every adapter of CONFIG on its datasets. Exit codes: "
        "0 every job done, 1 some jobs failed (the rest are kept), 2 bad input (nothing "
        "written), 3 disk full (finished jobs kept), 130 interrupted (rerun to resume).",
    )
    p.add_argument("config", help="run config YAML (see configs/default.yaml)")
    p.add_argument(
        "--out",
        help="run directory: new, empty, or an earlier run of this config to resume "
        "(default ./runs/<name>)",
    )
    p.add_argument(
        "--executor",
        choices=["local", "slurm"],
        help="where the jobs run: this machine, or a Slurm cluster through submitit "
        "(default: the config's executor, else local; see docs/cluster.md)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="render the markdown report of a run from stored results")
    p.add_argument("run_dir")
    p.add_argument("--out", help="markdown file (default RUN_DIR/report.md)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "track", help="track a video with a trained model of a run: CSV, labelled video, metrics"
    )
    p.add_argument("run_dir")
    p.add_argument("--adapter", help="adapter label in the run")
    p.add_argument("--video", required=True, help="video file (anything ffmpeg reads)")
    p.add_argument("--out", help="labelled video (default RUN_DIR/tracks/<adapter>__<video>/)")
    p.add_argument("--csv", help="also write the predictions here (.csv or .h5)")
    p.add_argument("--compare", help="A,B,...: adapters side by side on the same frames")
    p.add_argument("--dataset", help="which dataset's model, when the adapter ran on several")
    p.add_argument("--chunk-size", type=int, default=32, help="frames decoded at a time")
    p.add_argument(
        "--min-score",
        type=float,
        help="points scoring below it are drawn hollow (default: the adapter's own cutoff, "
        "e.g. DeepLabCut's pcutoff, else 0.5)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_track)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line ``kpbench: warning: ...`` (no source location)."""
    print(f"kpbench: warning: {message}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; bad input prints one line ``kpbench: error: ...`` and returns 2."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except (DiskFullError, OSError) as exc:
        if not is_no_space(exc):
            raise
        if not isinstance(exc, DiskFullError):
            exc = DiskFullError(exc.filename)
        print(
            f"kpbench: error: {exc}; what finished before is kept: free some space and run "
            "the same command again",
            file=sys.stderr,
        )
        return EXIT_NO_SPACE
    except SubmitError as exc:
        print(f"kpbench: error: {exc}", file=sys.stderr)
        return EXIT_JOBS_FAILED
    except KpbenchError as exc:
        print(f"kpbench: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kpbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
