"""SLEAP label files (``.slp`` / ``.pkg.slp``) through sleap-io: reading and writing.

Only user-labelled instances are read (predictions are ignored), one animal per frame.
Skeleton symmetries are the file's declared left/right pairs (see :mod:`benchmark.mirroring`).
Frames stored inside the file (``.pkg.slp``) or in a video are written once as PNGs into
``cache_dir()/frames/<sha256 of the file, 16 hex>/`` so every frame has an image path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.paths import CACHE_ENV, atomic_path, cache_dir, sha256_file, writable_dir

# Labels.provenance key holding {"<video index>/<frame index>": frame id}, written by
# write_pkg_slp so that reading the file back gives the original frame ids.
FRAME_IDS_KEY = "kpbench_frame_ids"


def _image_list_id(image: Path, slp_dir: Path) -> str:
    """Frame id of a frame stored as an image file: path relative to the .slp, else parent/name."""
    try:
        return image.resolve().relative_to(slp_dir.resolve()).as_posix()
    except ValueError:
        return f"{image.parent.name}/{image.name}"


def frame_id_namer(labels, slp_dir: Path):
    """A function ``(video, frame_idx) -> frame id`` for the frames of ``labels``.

    Ids stored by ``write_pkg_slp`` win; otherwise the id is derived from the video, so
    labels and predictions read from SLEAP files name the same frame the same way.
    """
    known_ids = dict(labels.provenance.get(FRAME_IDS_KEY) or {})
    video_index = {id(v): i for i, v in enumerate(labels.videos)}

    def name(video, frame_idx: int) -> str:
        key = f"{video_index[id(video)]}/{frame_idx}"
        return known_ids.get(key) or _video_frame_id(video, frame_idx, slp_dir)

    return name


def _video_frame_id(video, frame_idx: int, slp_dir: Path) -> str:
    """A stable frame id for frame ``frame_idx`` of a sleap-io Video (or its source video)."""
    source = video.source_video or video
    filename = source.filename
    if isinstance(filename, list):
        return _image_list_id(Path(filename[frame_idx]), slp_dir)
    return f"{Path(filename).name}/{frame_idx:06d}.png"


def _materialise(path: Path, wanted: list[tuple[int, object, int]]) -> dict[tuple[int, int], Path]:
    """Write the frames ``(video index, video, frame index)`` as PNGs once; return their paths."""
    from PIL import Image

    target = cache_dir() / "frames" / sha256_file(path)[:16]
    rel = {(vi, fi): Path(f"video{vi}") / f"{fi:06d}.png" for vi, _, fi in wanted}
    if not all((target / r).is_file() for r in rel.values()):
        writable_dir(target.parent, CACHE_ENV)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for vi, video, fi in wanted:
                try:
                    frame = np.asarray(video[fi])
                except Exception as exc:  # backends raise many types for unreadable frames
                    raise InputError(
                        path, f"cannot read frame {fi} of video {video.filename!r} ({exc})"
                    ) from None
                if frame.ndim == 3 and frame.shape[-1] == 1:
                    frame = frame[..., 0]
                out = tmp / rel[(vi, fi)]
                out.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(frame.astype(np.uint8)).save(out)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {key: target / r for key, r in rel.items()}


def read_slp(path: Path, *, name: str | None = None) -> tuple[Dataset, tuple[Path, ...]]:
    """Read the user-labelled frames of a SLEAP ``.slp`` or ``.pkg.slp`` file.

    Returns:
        The dataset and, per frame, the file it came from (``path``).

    Raises:
        InputError: The file cannot be read, has no skeleton, a frame holds more than one
            user instance, or a video it refers to is missing.
    """
    import sleap_io as sio

    path = Path(path).resolve()
    try:
        labels = sio.load_slp(str(path))
    except Exception as exc:  # h5py / sleap-io raise many types for bad files
        raise InputError(
            path, f"not a readable SLEAP file ({exc.__class__.__name__}: {exc})"
        ) from None
    if not labels.skeletons:
        raise InputError(path, "the SLEAP file has no skeleton")
    if len(labels.skeletons) > 1:
        raise InputError(path, f"{len(labels.skeletons)} skeletons; only one is supported")
    skel = labels.skeletons[0]
    names = [n.name for n in skel.nodes]
    index = {n: i for i, n in enumerate(names)}
    edges = [(index[e.source.name], index[e.destination.name]) for e in skel.edges]
    try:
        symmetries = slp_symmetries(skel)
        skeleton = Skeleton(tuple(names), tuple(edges), symmetries)
    except ValueError as exc:
        raise InputError(path, f"skeleton symmetries: {exc}") from None
    video_index = {id(v): i for i, v in enumerate(labels.videos)}

    rows = []  # (video index, video, frame index, points)
    for lf in labels.labeled_frames:
        user = lf.user_instances
        if not user:
            continue  # predictions only
        if len(user) > 1:
            raise InputError(
                path,
                f"frame {lf.frame_idx} of video {lf.video.filename!r} has {len(user)} user "
                "instances; multi-animal labels are not supported yet",
            )
        rows.append((video_index[id(lf.video)], lf.video, lf.frame_idx, user[0].numpy()))
    rows.sort(key=lambda r: (r[0], r[2]))

    slp_dir = path.parent
    frame_id = frame_id_namer(labels, slp_dir)
    frame_ids, image_paths, to_render = [], [], []
    for vi, video, fi, _ in rows:
        frame_ids.append(frame_id(video, fi))
        filename = video.filename
        if isinstance(filename, list) and Path(filename[fi]).is_file():
            image_paths.append(Path(filename[fi]).resolve())
        else:
            if not video.exists():
                raise InputError(path, f"video {filename!r} not found (needed for frame {fi})")
            image_paths.append(None)
            to_render.append((vi, video, fi))
    if to_render:
        rendered = _materialise(path, to_render)
        k = 0
        for i, p in enumerate(image_paths):
            if p is None:
                vi, _, fi = to_render[k]
                image_paths[i] = rendered[(vi, fi)]
                k += 1
    seen: dict[str, int] = {}
    for i, fid in enumerate(frame_ids):
        if fid in seen:
            raise InputError(path, f"frame {fid!r} appears twice")
        seen[fid] = i
    points = np.stack([r[3] for r in rows]) if rows else np.zeros((0, len(names), 2))
    stem = path.name.removesuffix(".slp").removesuffix(".pkg")
    ds = Dataset(
        name=name or stem,
        skeleton=skeleton,
        frame_ids=tuple(frame_ids),
        image_paths=tuple(image_paths),
        points=points,
        source=path,
        format="sleap",
        meta={},
    )
    return ds, (path,) * ds.n_frames


def slp_symmetries(skeleton) -> tuple[tuple[int, int], ...] | None:
    """A sleap-io skeleton's symmetries as index pairs; None when it declares none.

    SLEAP has no way to say "no pairs": a skeleton without symmetries is one whose pairs
    were not declared, so the harness finds them by name.
    """
    if not skeleton.symmetries:
        return None
    return tuple(skeleton.symmetry_inds)


def to_labels(ds: Dataset):
    """The dataset as sleap-io ``Labels``: one user instance per frame on one image-list video.

    NaN points become invisible nodes. Frame ids are kept in ``Labels.provenance``. The
    skeleton's symmetries are the left/right pairs the harness mirrors with (none when
    nothing may mirror), so a SLEAP flip would swap the same keypoints.
    """
    import sleap_io as sio

    skeleton = sio.Skeleton(
        nodes=list(ds.keypoints),
        edges=[list(e) for e in ds.skeleton.edge_names],
        symmetries=[list(p) for p in ds.skeleton.flip_pairs()],
    )
    video = sio.Video.from_filename([str(p) for p in ds.image_paths])
    frames = [
        sio.LabeledFrame(
            video=video,
            frame_idx=i,
            instances=[sio.Instance.from_numpy(ds.points[i].copy(), skeleton=skeleton)],
        )
        for i in range(ds.n_frames)
    ]
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton])
    labels.provenance[FRAME_IDS_KEY] = {f"0/{i}": fid for i, fid in enumerate(ds.frame_ids)}
    return labels


def write_pkg_slp(ds: Dataset, path: Path) -> Path:
    """Write the dataset as a SLEAP ``.pkg.slp`` with the images embedded.

    Returns:
        ``path``.
    """
    import sleap_io as sio

    path = Path(path)
    labels = to_labels(ds)
    with atomic_path(path) as tmp:
        tmp.unlink()  # sleap-io writes into an existing HDF5 file in append mode
        sio.save_slp(labels, str(tmp), embed="user", verbose=False)
    return path


__all__ = ["read_slp", "slp_symmetries", "to_labels", "write_pkg_slp"]
