"""Tiny generated datasets for tests (no files from outside the repo)."""

from pathlib import Path

from benchmark.dataset import Dataset
from benchmark.synthetic.blobs import COLORS, EDGES, KEYPOINTS, make_blob_dataset

__all__ = [
    "COLORS",
    "EDGES",
    "KEYPOINTS",
    "interruptible",
    "make_blob_dataset",
    "mixed_size_blobs",
    "write_video",
]


def mixed_size_blobs(
    folder: Path, size_a: tuple[int, int], size_b: tuple[int, int], n_frames: int = 6
) -> Dataset:
    """``n_frames`` blob frames of ``size_a`` then ``n_frames`` of ``size_b`` in one dataset
    (discs 5-6 px apart, some unlabelled)."""
    import numpy as np

    a = make_blob_dataset(folder / "a", n_frames=n_frames, size=size_a, seed=1)
    b = make_blob_dataset(folder / "b", n_frames=n_frames, size=size_b, seed=2, video="v2")
    return Dataset(
        name="mixed",
        skeleton=a.skeleton,
        frame_ids=a.frame_ids + b.frame_ids,
        image_paths=a.image_paths + b.image_paths,
        points=np.concatenate([a.points, b.points]),
    )


def write_video(ds: Dataset, path: Path, fps: int = 10) -> Path:
    """The dataset's frames, in order, as an H.264 mp4 (a video whose frame i is frame i)."""
    from benchmark.images import read_image
    from benchmark.video.io import video_writer

    path.parent.mkdir(parents=True, exist_ok=True)
    with video_writer(path, fps=fps) as writer:
        for image_path in ds.image_paths:
            writer.append_data(read_image(image_path))
    return path


def interruptible() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: SIGINT's default
    disposition, as under a terminal. A test suite started in the background by a
    non-interactive shell inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt in the child."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
