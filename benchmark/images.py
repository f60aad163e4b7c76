"""Reading frames from disk with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.errors import InputError


def image_size(path: str | Path) -> tuple[int, int]:
    """Width and height of an image, from its header.

    Raises:
        InputError: The file is missing or is not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file not found")
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(path, f"not a readable image ({exc.__class__.__name__})") from None


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image as an ``(H, W, 3)`` uint8 RGB array.

    Raises:
        InputError: The file is missing, truncated or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file not found")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(path, f"not a readable image ({exc.__class__.__name__}: {exc})") from None
