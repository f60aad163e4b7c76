"""``kpbench datasets preview``: labelled frames of a dataset in one PNG."""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath

import numpy as np

from benchmark.dataset import Dataset
from benchmark.paths import atomic_path


def preview(dataset: Dataset | str | Path, out_png: str | Path, n: int = 12, seed: int = 0) -> Path:
    """Draw ``n`` random frames with their labelled keypoints and skeleton into a PNG.

    Args:
        dataset: A registered dataset name, a dataset folder or file, or a loaded Dataset.
        out_png: The image to write (atomically).
        n: Number of frames (fewer when the dataset is smaller).
        seed: Chooses the frames.

    Returns:
        ``out_png``.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from benchmark.images import read_image

    ds = _as_dataset(dataset)
    count = min(n, ds.n_frames)
    rows_idx = np.sort(np.random.default_rng(seed).choice(ds.n_frames, count, replace=False))
    ncols = min(4, count)
    nrows = math.ceil(count / ncols)
    first = read_image(ds.image_paths[rows_idx[0]])
    aspect = first.shape[0] / first.shape[1]
    fig = Figure(figsize=(3.2 * ncols, 3.2 * nrows * aspect + 1.2), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    k = ds.n_keypoints
    colors = colormaps["tab10" if k <= 10 else "tab20"](np.arange(k) % 20)
    for ax, i in zip(axes.flat, rows_idx, strict=False):
        ax.imshow(first if i == rows_idx[0] else read_image(ds.image_paths[i]))
        pts, ok = ds.points[i], ds.labeled[i]
        for a, b in ds.skeleton.edges:
            if ok[a] and ok[b]:
                ax.plot(*zip(pts[a], pts[b], strict=True), color="white", lw=1.2, alpha=0.8)
        ax.scatter(pts[ok, 0], pts[ok, 1], s=22, c=colors[ok], edgecolors="black", lw=0.6, zorder=3)
        missing = int((~ok).sum())
        note = f" ({missing} unlabelled)" if missing else ""
        ax.set_title(f"{PurePosixPath(ds.frame_ids[i]).name}{note}", fontsize=8)
        ax.set_axis_off()
    for ax in axes.flat[count:]:
        ax.set_axis_off()
    handles = [
        Line2D([], [], ls="", marker="o", color=colors[j], mec="black", label=name)
        for j, name in enumerate(ds.keypoints)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(k, 8), frameon=False)
    species = ds.meta.get("species") or "species unknown"
    if ds.meta.get("synthetic"):
        species += " (synthetic)"
    fig.suptitle(f"{ds.name}: {species}, {ds.n_frames} frames, {k} keypoints")
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return out_png


def _as_dataset(dataset: Dataset | str | Path) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    path = Path(dataset)
    if path.exists():
        from benchmark.io import read_dataset

        return read_dataset(path)
    from benchmark.datasets.fetch import load_dataset

    return load_dataset(str(dataset))
