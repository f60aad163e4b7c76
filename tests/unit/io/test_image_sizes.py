"""Image sizes: huge images are refused in one line, far larger ones warned about, all reported."""

from __future__ import annotations

import struct
import time
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.errors import InputError
from benchmark.images import MAX_IMAGE_PIXELS, image_size, read_image
from benchmark.io import read_dataset
from benchmark.io.validate import OVERSIZE_FACTOR


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A 1-bit greyscale PNG of any size whose pixel data is empty: PIL reads its size only.

    Writing it takes microseconds and ~100 bytes, whatever the size.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


# ----- too large to read: one InputError naming the image and its size -----


@pytest.mark.parametrize("side", [14000, 10000], ids=["pil-error", "pil-warning"])
def test_huge_image_is_an_input_error(dlc_project, side):
    """14000^2 px makes PIL raise DecompressionBombError; 10000^2 px only makes it warn."""
    project, ds = dlc_project
    img = project / ds.frame_ids[2]
    start = time.perf_counter()
    png_header_only(img, side, side)
    assert time.perf_counter() - start < 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even PIL's DecompressionBombWarning gets out
        with pytest.raises(InputError) as err:
            read_dataset(project)
    assert err.value.path == img
    assert err.value.problem.startswith(f"image is {side}x{side} px, larger than the 89.5 Mpx")
    for reader in (image_size, read_image):
        with pytest.raises(InputError, match=f"image is {side}x{side} px"):
            reader(img)


def test_image_at_the_limit_is_read(tmp_path):
    img = png_header_only(tmp_path / "big.png", MAX_IMAGE_PIXELS, 1)
    assert image_size(img) == (MAX_IMAGE_PIXELS, 1)
    with pytest.raises(InputError, match=f"image is {MAX_IMAGE_PIXELS + 1}x1 px"):
        image_size(png_header_only(tmp_path / "bigger.png", MAX_IMAGE_PIXELS + 1, 1))


def test_cli_info_on_a_huge_image_is_one_line_and_exit_2(dlc_project, capsys):
    project, ds = dlc_project
    img = png_header_only(project / ds.frame_ids[0], 14000, 14000)
    assert main(["info", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"kpbench: error: {img}: image is 14000x14000 px")


# ----- far larger than the others: one warning line; sizes in the summary -----


def test_far_larger_image_warns(dlc_project):
    project, ds = dlc_project
    big = project / ds.frame_ids[3]
    Image.new("RGB", (200, 160)).save(big)  # 25x the 40x32 frames' area
    with pytest.warns(UserWarning) as record:
        back = read_dataset(project)
    [w] = [str(w.message) for w in record]
    assert w.startswith(f"{big}: image is 200x160 px, 25x the area of the typical 40x32 frame;")
    assert "\n" not in w
    summary = back.summary()
    assert summary["image_size"] is None
    assert summary["image_sizes"] == [
        {"size": [40, 32], "frames": 7},
        {"size": [200, 160], "frames": 1},
    ]


def test_several_far_larger_images_warn_once(dlc_project):
    project, ds = dlc_project
    Image.new("RGB", (200, 160)).save(project / ds.frame_ids[1])
    Image.new("RGB", (400, 320)).save(project / ds.frame_ids[6])
    with pytest.warns(UserWarning) as record:
        read_dataset(project)
    [w] = [str(w.message) for w in record]
    assert w.startswith(f"{project / ds.frame_ids[6]}: image is 400x320 px, 100x the area")
    assert f"(and 1 more image(s) over {OVERSIZE_FACTOR:g}x)" in w


def test_mixed_sizes_within_the_factor_are_reported_not_warned(dlc_project):
    project, ds = dlc_project
    Image.new("RGB", (80, 64)).save(project / ds.frame_ids[0])  # exactly 4x the area
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = read_dataset(project).summary()
    assert summary["image_size"] is None
    assert summary["image_sizes"] == [
        {"size": [40, 32], "frames": 7},
        {"size": [80, 64], "frames": 1},
    ]


def test_one_size_is_reported_as_such(dlc_project):
    project, _ = dlc_project
    summary = read_dataset(project).summary()
    assert summary["image_size"] == [40, 32]
    assert summary["image_sizes"] == [{"size": [40, 32], "frames": 8}]
