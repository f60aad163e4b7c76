"""Reading videos in chunks of frames (memory bounded by the chunk, not the video), and
writing H.264 videos."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import InputError
from benchmark.paths import atomic_path


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg says about a video before decoding it.

    Attributes:
        path: The video file.
        width: Frame width in pixels.
        height: Frame height in pixels.
        fps: Frames per second.
        n_frames: Frame count estimated from duration x fps (exact only after decoding).
    """

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int


def _open(path: Path) -> tuple[Iterator, dict]:
    import imageio_ffmpeg

    if not path.is_file():
        raise InputError(path, "video not found")
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as exc:
        gen.close()
        raise InputError(path, f"cannot read the video ({exc.__class__.__name__})") from None
    return gen, meta


def video_info(path: str | Path) -> VideoInfo:
    """Size, frame rate and estimated frame count of a video.

    Raises:
        InputError: The file is missing or ffmpeg cannot read it.
    """
    path = Path(path)
    gen, meta = _open(path)
    gen.close()
    w, h = meta["size"]
    fps = float(meta.get("fps") or 30.0)
    duration = float(meta.get("duration") or 0.0)
    return VideoInfo(path, int(w), int(h), fps, max(round(duration * fps), 0))


def read_chunks(path: str | Path, chunk_size: int = 32) -> Iterator[list[np.ndarray]]:
    """Decode a video lazily, ``chunk_size`` frames at a time.

    Yields:
        Lists of at most ``chunk_size`` ``(H, W, 3)`` uint8 RGB frames, in video order.

    Raises:
        InputError: The file is missing or ffmpeg cannot read it.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    path = Path(path)
    gen, meta = _open(path)
    w, h = meta["size"]
    chunk: list[np.ndarray] = []
    try:
        for raw in gen:
            chunk.append(np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3))
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    except RuntimeError as exc:  # ffmpeg failed mid-stream (truncated or corrupt file)
        raise InputError(path, f"cannot decode the video ({exc})") from None
    finally:
        gen.close()  # stops the ffmpeg process when the caller stops early


@contextlib.contextmanager
def video_writer(path: Path, fps: int = 30) -> Iterator:
    """An imageio writer for an H.264 (yuv420p) mp4 that ordinary players play.

    The file appears only when writing finished (temp file + rename).
    """
    import imageio.v2 as iio

    with atomic_path(path) as tmp:
        writer = iio.get_writer(
            tmp,
            format="FFMPEG",
            fps=fps,
            codec="libx264",
            quality=8,
            macro_block_size=2,
            pixelformat="yuv420p",
            ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-threads", "1"],
        )
        try:
            yield writer
        finally:
            writer.close()
