"""Reading labelled datasets in the field's formats into one :class:`~benchmark.dataset.Dataset`.

``read_dataset(path)`` detects the format, reads it, and validates images and labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from benchmark.dataset import Dataset
from benchmark.errors import InputError

FORMATS = ("deeplabcut", "deeplabcut-csv", "sleap", "coco")


def detect_format(path: str | Path) -> str:
    """Name the reader for ``path``: ``deeplabcut``, ``deeplabcut-csv``, ``sleap`` or ``coco``.

    A DeepLabCut project is its folder or its ``config.yaml``; a bare DeepLabCut-style label
    file (``.csv`` / ``.h5``) is ``deeplabcut-csv``.

    Raises:
        InputError: The path does not exist or is none of these formats.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_dir():
        if (path / "config.yaml").is_file():
            return "deeplabcut"
        raise InputError(
            path, "unknown dataset format: a folder must be a DeepLabCut project (config.yaml)"
        )
    name = path.name.lower()
    if name.endswith(".slp"):
        return "sleap"
    if name in ("config.yaml", "config.yml"):
        return "deeplabcut"
    if name.endswith((".csv", ".h5", ".hdf5")):
        return "deeplabcut-csv"
    if name.endswith(".json"):
        from benchmark.io.coco import is_coco_keypoints

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(path, f"not a readable json file ({exc})") from None
        if is_coco_keypoints(data):
            return "coco"
        raise InputError(path, "unknown dataset format: json is not COCO keypoints")
    raise InputError(
        path,
        "unknown dataset format (expected a DeepLabCut project or CollectedData csv/h5, "
        "a SLEAP .slp, or a COCO keypoints .json)",
    )


def read_dataset(
    path: str | Path,
    *,
    name: str | None = None,
    missing_images: Literal["error", "drop"] = "error",
    validate: bool = True,
) -> Dataset:
    """Read and validate a labelled dataset in any supported format.

    Args:
        path: A DeepLabCut project folder or ``config.yaml``, a DeepLabCut-style label file,
            a SLEAP ``.slp``/``.pkg.slp``, or a COCO keypoints json.
        name: Dataset name (default: from the project or file name).
        missing_images: Label rows whose image is missing: ``error`` (default) or ``drop``
            them with a warning.
        validate: Check that images decode and labels lie on the image.

    Raises:
        InputError: One clear message naming the file and the problem.
    """
    from benchmark.io.validate import resolve_missing_images, validate_dataset

    fmt = detect_format(path)
    if fmt == "deeplabcut":
        from benchmark.io.dlc import read_dlc_project as reader
    elif fmt == "deeplabcut-csv":
        from benchmark.io.dlc import read_dlc_file as reader
    elif fmt == "sleap":
        from benchmark.io.sleap import read_slp as reader
    else:
        from benchmark.io.coco import read_coco as reader
    ds, origins = reader(Path(path), name=name)
    ds, origins = resolve_missing_images(ds, origins, missing_images)
    if validate:
        validate_dataset(ds, origins)
    return ds


__all__ = ["FORMATS", "detect_format", "read_dataset"]
