"""Reading frames from disk with errors that name the file."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.errors import InputError

# Largest image kpbench reads: PIL's default ``Image.MAX_IMAGE_PIXELS`` (about 89 Mpx, e.g.
# 9459x9459), beyond which PIL itself warns of a decompression bomb. Pose datasets hold
# frames of a few Mpx; anything this large is a mistake that would stall training.
MAX_IMAGE_PIXELS = 89_478_485


def _too_large(path: Path, size: tuple[int, int] | None) -> InputError:
    shown = f"{size[0]}x{size[1]} px" if size else f"over {2 * Image.MAX_IMAGE_PIXELS} px"
    return InputError(
        path,
        f"image is {shown}, larger than the {MAX_IMAGE_PIXELS / 1e6:.1f} Mpx kpbench reads "
        "(PIL's decompression-bomb limit); resize it or drop its frame",
    )


def _header_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the header by PIL's own format plugins, bypassing its size limit.

    Only for naming the size of an image that ``Image.open`` refused as a decompression bomb.
    """
    Image.init()
    with open(path, "rb") as fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            result = accept(prefix) if accept else True
            if isinstance(result, str) or not result:
                continue
            fp.seek(0)
            try:
                with factory(fp, str(path)) as im:
                    return int(im.width), int(im.height)
            except (SyntaxError, IndexError, TypeError, struct.error, OSError):
                continue
    return None


def open_image(path: str | Path) -> Image.Image:
    """Open an image lazily (header only), refusing one over :data:`MAX_IMAGE_PIXELS`.

    Other PIL errors (not an image, corrupt) propagate for the caller to word.

    Raises:
        InputError: The file is missing or the image is too large.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file not found")
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x its limit PIL warns (in several lines); kpbench refuses below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError:
        raise _too_large(path, _header_size(path)) from None
    if im.width * im.height > MAX_IMAGE_PIXELS:
        im.close()
        raise _too_large(path, (int(im.width), int(im.height)))
    return im


def image_size(path: str | Path) -> tuple[int, int]:
    """Width and height of an image, from its header.

    Raises:
        InputError: The file is missing, not a readable image, or too large.
    """
    path = Path(path)
    try:
        with open_image(path) as im:
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(path, f"not a readable image ({exc.__class__.__name__})") from None


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image as an ``(H, W, 3)`` uint8 RGB array.

    Raises:
        InputError: The file is missing, truncated, not an image, or too large.
    """
    path = Path(path)
    try:
        with open_image(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(path, f"not a readable image ({exc.__class__.__name__}: {exc})") from None
