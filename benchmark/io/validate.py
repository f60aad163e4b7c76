"""Checks a freshly read dataset must pass: images exist and decode, labels lie on the image.

Structural checks (shapes, duplicate frames, empty dataset) live in ``Dataset`` itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import UnidentifiedImageError

from benchmark.dataset import Dataset
from benchmark.errors import InputError
from benchmark.images import open_image

# A label may sit this far (fraction of width/height) outside the image before it is an error;
# annotators legitimately click a little past the border.
OUTSIDE_TOLERANCE = 0.10
# An image whose area exceeds this many times the median frame's is reported: one 8000x8000
# frame among 640x480 ones made an epoch take 235 s instead of about 1 s.
OVERSIZE_FACTOR = 4.0


def resolve_missing_images(
    ds: Dataset,
    origins: Sequence[Path],
    missing_images: Literal["error", "drop"] = "error",
) -> tuple[Dataset, tuple[Path, ...]]:
    """Handle label rows whose image file does not exist.

    Args:
        ds: The dataset as read.
        origins: The label file of each frame (named in the error).
        missing_images: ``error`` raises on the first such row; ``drop`` removes those frames
            with a warning.

    Returns:
        The dataset and origins without the dropped frames.

    Raises:
        InputError: A row's image is missing (``error``) or every image is missing.
    """
    missing = [i for i, p in enumerate(ds.image_paths) if not Path(p).is_file()]
    if not missing:
        return ds, tuple(origins)
    if missing_images == "error":
        i = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(
            origins[i],
            f"label row {ds.frame_ids[i]!r} refers to a missing image {ds.image_paths[i]}{more}",
        )
    if len(missing) == ds.n_frames:
        raise InputError(origins[0], f"none of the {ds.n_frames} labelled images exists")
    warnings.warn(
        f"{origins[missing[0]]}: dropped {len(missing)} label row(s) whose image is missing, "
        f"e.g. {ds.frame_ids[missing[0]]!r}",
        stacklevel=2,
    )
    gone = set(missing)
    keep = [i for i in range(ds.n_frames) if i not in gone]
    return ds.subset([ds.frame_ids[i] for i in keep]), tuple(origins[i] for i in keep)


def check_image(path: Path) -> tuple[int, int]:
    """Open and verify an image file; return its ``(width, height)``.

    Raises:
        InputError: The file is missing, not an image, truncated/corrupt, or larger than
            :data:`benchmark.images.MAX_IMAGE_PIXELS`.
    """
    path = Path(path)
    try:
        with open_image(path) as im:
            size = (int(im.width), int(im.height))
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            path, f"unreadable or corrupt image ({exc.__class__.__name__}: {exc})"
        ) from None
    return size


def check_label_bounds(
    ds: Dataset, sizes: Sequence[tuple[int, int]], origins: Sequence[Path]
) -> None:
    """Raise when a label lies more than 10% of the image width/height outside the image."""
    wh = np.asarray(sizes, dtype=np.float64)[:, None, :]  # (n, 1, 2)
    pts = ds.points
    with np.errstate(invalid="ignore"):
        bad = ((pts < -OUTSIDE_TOLERANCE * wh) | (pts > (1 + OUTSIDE_TOLERANCE) * wh)).any(-1)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        x, y = pts[i, j]
        w, h = sizes[i]
        raise InputError(
            origins[i],
            f"frame {ds.frame_ids[i]!r}, keypoint {ds.keypoints[j]!r}: label ({x:.1f}, {y:.1f}) "
            f"is far outside the {w}x{h} image ({int(bad.sum())} such label(s))",
        )


def warn_oversized_images(ds: Dataset, sizes: Sequence[tuple[int, int]]) -> None:
    """Warn (one line) when images are far larger than the typical frame.

    The typical frame is the one of median area; an image is far larger when its area exceeds
    :data:`OVERSIZE_FACTOR` times that.
    """
    areas = np.array([w * h for w, h in sizes], dtype=np.float64)
    tw, th = sizes[int(np.argsort(areas, kind="stable")[(len(areas) - 1) // 2])]
    big = [i for i, a in enumerate(areas) if a > OVERSIZE_FACTOR * tw * th]
    if not big:
        return
    i = max(big, key=lambda k: areas[k])
    w, h = sizes[i]
    more = f" (and {len(big) - 1} more image(s) over {OVERSIZE_FACTOR:g}x)" if len(big) > 1 else ""
    warnings.warn(
        f"{ds.image_paths[i]}: image is {w}x{h} px, {areas[i] / (tw * th):.0f}x the area of the "
        f"typical {tw}x{th} frame{more}; at full size it slows every epoch and takes memory: "
        "resize it to match, or drop its frame",
        stacklevel=2,
    )


def validate_dataset(ds: Dataset, origins: Sequence[Path] | None = None) -> None:
    """Check every image exists and decodes, and every label lies on (or near) its image.

    Warns when some images are far larger than the typical frame.

    Args:
        ds: The dataset to check.
        origins: The label file of each frame, named in label errors (default: ``ds.source``).

    Raises:
        InputError: Naming the bad image, or the label file with the frame and keypoint.
    """
    if origins is None:
        origins = [ds.source or Path(ds.name)] * ds.n_frames
    sizes = [check_image(p) for p in ds.image_paths]
    check_label_bounds(ds, sizes, origins)
    warn_oversized_images(ds, sizes)


__all__ = [
    "OUTSIDE_TOLERANCE",
    "OVERSIZE_FACTOR",
    "check_image",
    "check_label_bounds",
    "resolve_missing_images",
    "validate_dataset",
    "warn_oversized_images",
]
