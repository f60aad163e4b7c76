"""Deterministic synthetic keypoint datasets: a rat seen from above and a rabbit from the side.

:func:`generate` renders a video of one animal and writes it as a standard DeepLabCut
project: every ``LABEL_EVERY``-th video frame is a labelled frame (PNG plus exact labels,
NaN where the render hides the point), and the whole video comes with per-frame ground truth,
so errors can be measured on every video frame, not only on the labelled ones.

An animal may come in several *variants*: recording setups with the same skeleton (the rat's
``shifted`` one has another arena, lighting, camera height and coat; see
:mod:`benchmark.synthetic.rat`), for studies that train on one setup and test on another.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from PIL import Image

from benchmark.dataset import Dataset, Skeleton
from benchmark.paths import atomic_write_text

GENERATOR_VERSION = "1"
LABEL_EVERY = 2  # labelled frames are every 2nd frame of a video twice as long
SCORER = "kpbench"
KINDS = ("rat", "rabbit")
VIDEOS = {"rat": "rat_openfield", "rabbit": "rabbit_pen"}
SPECIES = {"rat": "rat", "rabbit": "rabbit"}
DEFAULT_VARIANT = "default"


def skeleton(kind: Literal["rat", "rabbit"]) -> Skeleton:
    """Keypoints (in label order) and skeleton edges of a synthetic animal."""
    mod = _module(kind)
    return Skeleton.from_names(mod.KEYPOINTS, mod.EDGES)


def _module(kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic animal {kind!r}; choose one of {', '.join(KINDS)}")
    return importlib.import_module(f"benchmark.synthetic.{kind}")


def variants(kind: Literal["rat", "rabbit"]) -> tuple[str, ...]:
    """The recording setups an animal can be rendered in; the first is the default."""
    return tuple(getattr(_module(kind), "SETUPS", (DEFAULT_VARIANT,)))


def render_frames(
    kind: Literal["rat", "rabbit"],
    n_frames: int,
    size: tuple[int, int],
    seed: int,
    variant: str = DEFAULT_VARIANT,
):
    """Render ``n_frames`` consecutive video frames of an animal.

    Args:
        kind: ``rat`` or ``rabbit``.
        n_frames: Number of video frames.
        size: Image width and height in pixels (even numbers, at least 32x24).
        seed: Random seed.
        variant: Recording setup (see :func:`variants`).

    Yields:
        ``(image, points)``: ``(H, W, 3)`` uint8 RGB and ``(n_keypoints, 2)`` x, y in image
        pixels (pixel centres at integers), NaN where the keypoint is hidden or out of frame.
    """
    w, h = size
    if w < 32 or h < 24 or w % 2 or h % 2:
        raise ValueError(f"image size must be even and at least 32x24, not {w}x{h}")
    _check_variant(kind, variant)
    mod = _module(kind)
    setup = {} if variant == DEFAULT_VARIANT else {"setup": mod.SETUPS[variant]}
    yield from mod.frames(n_frames, (int(w), int(h)), np.random.default_rng(seed), **setup)


def _check_variant(kind: str, variant: str) -> None:
    known = variants(kind)
    if variant not in known:
        raise ValueError(
            f"unknown variant {variant!r} of the synthetic {kind}; choose one of {', '.join(known)}"
        )


def dataset_name(kind: str, variant: str = DEFAULT_VARIANT) -> str:
    """``synthetic-<kind>``, with ``-<variant>`` for a variant other than the default."""
    return f"synthetic-{kind}" + ("" if variant == DEFAULT_VARIANT else f"-{variant}")


def generate(
    kind: Literal["rat", "rabbit"],
    out_dir: Path,
    *,
    n_frames: int = 240,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    variant: str = DEFAULT_VARIANT,
) -> Path:
    """Write a synthetic DeepLabCut project of ``n_frames`` labelled frames into ``out_dir``.

    The project holds ``config.yaml``, ``labeled-data/<video>/imgNNNN.png`` (NNNN = video
    frame number) with ``CollectedData_kpbench.csv|.h5``, the whole video
    ``videos/<video>.mp4`` (``n_frames * LABEL_EVERY`` frames, H.264, 30 fps), its per-frame
    ground truth ``videos/<video>_groundtruth.csv`` (DeepLabCut table indexed by video frame
    number; likelihood 1 where visible, NaN where hidden) and ``kpbench.yaml`` (species,
    synthetic, generator, variant, version, seed). The same arguments give byte-identical
    labels and images. A variant other than the default names the video
    ``<video>_<variant>``.

    Args:
        kind: ``rat`` (top view, infrared open field) or ``rabbit`` (side view, pen).
        out_dir: Project folder (created).
        n_frames: Number of labelled frames.
        size: Image width and height in pixels (even numbers).
        seed: Random seed.
        variant: Recording setup (see :func:`variants`).

    Returns:
        ``out_dir``.

    Raises:
        ValueError: Unknown kind or variant, bad size, or fewer than one frame.
    """
    from benchmark.io.dlc import write_dlc_project
    from benchmark.io.predictions import write_dlc_predictions
    from benchmark.video.io import video_writer

    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, not {n_frames}")
    skel = skeleton(kind)
    _check_variant(kind, variant)
    out_dir = Path(out_dir)
    video = VIDEOS[kind] + ("" if variant == DEFAULT_VARIANT else f"_{variant}")
    n_video = n_frames * LABEL_EVERY
    digits = max(4, len(str(n_video - 1)))
    img_dir = out_dir / "labeled-data" / video
    img_dir.mkdir(parents=True, exist_ok=True)
    truth = np.full((n_video, len(skel.keypoints), 3), np.nan)
    ids, paths, labels = [], [], []
    with video_writer(out_dir / "videos" / f"{video}.mp4") as writer:
        for i, (image, pts) in enumerate(render_frames(kind, n_video, size, seed, variant)):
            writer.append_data(image)
            truth[i, :, :2] = pts
            truth[i, :, 2] = np.where(np.isnan(pts[:, 0]), np.nan, 1.0)
            if i % LABEL_EVERY == 0:
                name = f"img{i:0{digits}d}.png"
                Image.fromarray(image).save(img_dir / name, compress_level=3)
                ids.append(f"labeled-data/{video}/{name}")
                paths.append((img_dir / name).resolve())
                labels.append(pts)
    write_dlc_predictions(
        out_dir / "videos" / f"{video}_groundtruth.csv",
        [str(i) for i in range(n_video)],
        skel.keypoints,
        truth,
        scorer=SCORER,
        individual=None,
    )
    meta = {
        "species": SPECIES[kind],
        "synthetic": True,
        "generator": kind,
        "variant": variant,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_frames": int(n_frames),
        "image_size": [int(size[0]), int(size[1])],
        "label_every": LABEL_EVERY,
        "video": f"videos/{video}.mp4",
        "groundtruth": f"videos/{video}_groundtruth.csv",
    }
    name = dataset_name(kind, variant)
    ds = Dataset(
        name=name,
        skeleton=skel,
        frame_ids=tuple(ids),
        image_paths=tuple(paths),
        points=np.array(labels),
        source=out_dir,
        format="deeplabcut",
        meta=meta,
    )
    write_dlc_project(ds, out_dir, scorer=SCORER, images="inplace", task=name)
    atomic_write_text(out_dir / "kpbench.yaml", yaml.safe_dump(meta, sort_keys=False))
    return out_dir


__all__ = [
    "DEFAULT_VARIANT",
    "GENERATOR_VERSION",
    "KINDS",
    "LABEL_EVERY",
    "dataset_name",
    "generate",
    "render_frames",
    "skeleton",
    "variants",
]
