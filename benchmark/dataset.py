"""The canonical in-memory dataset every reader produces and every adapter consumes.

Points are a float array ``(n_frames, n_keypoints, 2)`` in original image pixels, NaN where a
keypoint is not labelled. Keypoint order is the file's order, never sorted. Frames are
identified by ``frame_ids`` (for DeepLabCut projects: the image path relative to the project,
``labeled-data/<video>/<image>``), which is also how predictions are matched to ground truth.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from benchmark.errors import InputError
from benchmark.mirroring import Mirroring, check_pairs, mirroring, pairs_from_names


@dataclass(frozen=True)
class Skeleton:
    """Ordered keypoint names, the edges between them and the declared left/right pairs.

    Attributes:
        keypoints: Keypoint names in file order.
        edges: Pairs of keypoint indices.
        symmetries: Left/right pairs (keypoint indices) declared by the file or the run
            config: ``None`` = none declared (pairs are found by name, see
            :mod:`benchmark.mirroring`), ``()`` = declared none (never mirror).
    """

    keypoints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...] = ()
    symmetries: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "keypoints", tuple(str(k) for k in self.keypoints))
        object.__setattr__(self, "edges", tuple((int(a), int(b)) for a, b in self.edges))
        if not self.keypoints:
            raise ValueError("a skeleton needs at least one keypoint")
        dupes = sorted({k for k in self.keypoints if self.keypoints.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate keypoint names: {', '.join(dupes)}")
        n = len(self.keypoints)
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"edge ({a}, {b}) refers to a keypoint index outside 0..{n - 1}")
        if self.symmetries is not None:
            object.__setattr__(self, "symmetries", check_pairs(self.symmetries, self.keypoints))

    @classmethod
    def from_names(
        cls,
        keypoints: Sequence[str],
        edges: Sequence[tuple[str, str]] = (),
        symmetries: Sequence[Sequence[str]] | None = None,
    ) -> Skeleton:
        """Build a skeleton from keypoint names, edges and left/right pairs given as names.

        Edges naming unknown keypoints are dropped (DeepLabCut configs often keep stale ones);
        a pair naming one is an error (ValueError).
        """
        index = {k: i for i, k in enumerate(keypoints)}
        pairs = tuple((index[a], index[b]) for a, b in edges if a in index and b in index)
        sym = None if symmetries is None else pairs_from_names(symmetries, keypoints)
        return cls(tuple(keypoints), pairs, sym)

    @property
    def edge_names(self) -> list[tuple[str, str]]:
        """Edges as pairs of keypoint names."""
        return [(self.keypoints[a], self.keypoints[b]) for a, b in self.edges]

    @property
    def symmetry_names(self) -> list[tuple[str, str]] | None:
        """Declared left/right pairs as names (None when none are declared)."""
        if self.symmetries is None:
            return None
        return [(self.keypoints[a], self.keypoints[b]) for a, b in self.symmetries]

    def with_symmetries(self, symmetries: Sequence[Sequence[str]] | None) -> Skeleton:
        """The same skeleton with other declared left/right pairs, given as names."""
        return Skeleton.from_names(self.keypoints, self.edge_names, symmetries)

    def mirroring(self) -> Mirroring:
        """The left/right pairs a mirror swaps (declared, else by name), or why nothing
        may mirror (see :mod:`benchmark.mirroring`)."""
        return mirroring(self.keypoints, self.symmetries)

    def flip_pairs(self) -> list[tuple[int, int]]:
        """Left/right keypoint pairs to swap when mirroring; empty when nothing may mirror.

        Adapters that mirror frames must not mirror when this is empty;
        :meth:`mirroring` says why.
        """
        return list(self.mirroring().pairs)


@dataclass(frozen=True)
class Dataset:
    """Labelled frames of one animal per frame.

    Attributes:
        name: Short dataset name (used in results and reports).
        skeleton: Keypoint names (file order) and edges.
        frame_ids: One unique id per frame; for DeepLabCut the image path relative to the project.
        image_paths: Absolute path of each frame's image.
        points: ``(n_frames, n_keypoints, 2)`` float64 x, y in original pixels; NaN = not labelled.
        source: The file or folder the dataset was read from.
        format: Reader that produced it (``deeplabcut``, ``deeplabcut-csv``, ``sleap``, ``coco``).
        meta: Free-form metadata (species, synthetic, scorer, licence, ...).
    """

    name: str
    skeleton: Skeleton
    frame_ids: tuple[str, ...]
    image_paths: tuple[Path, ...]
    points: np.ndarray
    source: Path | None = None
    format: str = "unknown"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.source if self.source is not None else Path(self.name)
        object.__setattr__(self, "frame_ids", tuple(str(f) for f in self.frame_ids))
        object.__setattr__(self, "image_paths", tuple(Path(p) for p in self.image_paths))
        points = np.array(self.points, dtype=np.float64, copy=True)
        points.setflags(write=False)
        object.__setattr__(self, "points", points)
        n, k = len(self.frame_ids), len(self.skeleton.keypoints)
        if n == 0:
            raise InputError(where, "the dataset is empty (no labelled frames)")
        if len(self.image_paths) != n:
            raise InputError(where, f"{len(self.image_paths)} image paths for {n} frames")
        if points.shape != (n, k, 2):
            raise InputError(where, f"points have shape {points.shape}, expected ({n}, {k}, 2)")
        seen: set[str] = set()
        for fid in self.frame_ids:
            if fid in seen:
                raise InputError(where, f"duplicate frame {fid!r}")
            seen.add(fid)
        # A keypoint is labelled only when both coordinates are; half-labelled becomes NaN.
        half = np.isnan(points).any(axis=-1) & ~np.isnan(points).all(axis=-1)
        if half.any():
            fixed = points.copy()
            fixed[half] = np.nan
            fixed.setflags(write=False)
            object.__setattr__(self, "points", fixed)
        if np.isinf(self.points).any():
            raise InputError(where, "labels contain infinite coordinates")

    # ----- shape and counts -----
    @property
    def keypoints(self) -> tuple[str, ...]:
        """Keypoint names in file order."""
        return self.skeleton.keypoints

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return len(self.frame_ids)

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints per frame."""
        return len(self.skeleton.keypoints)

    @property
    def labeled(self) -> np.ndarray:
        """Boolean ``(n_frames, n_keypoints)``: True where a keypoint is labelled."""
        return ~np.isnan(self.points).any(axis=-1)

    @property
    def n_labeled(self) -> int:
        """Number of labelled keypoints over all frames."""
        return int(self.labeled.sum())

    @property
    def n_missing(self) -> int:
        """Number of unlabelled keypoints over all frames."""
        return self.n_frames * self.n_keypoints - self.n_labeled

    def image_sizes(self) -> list[tuple[int, int]]:
        """Width and height of each frame's image (reads image headers only)."""
        from benchmark.images import image_size

        return [image_size(p) for p in self.image_paths]

    def image_size_counts(self) -> list[tuple[tuple[int, int], int]]:
        """Each distinct ``(width, height)`` with its number of frames, most frames first.

        Sizes with equally many frames keep the order of their first frame.
        """
        return Counter(self.image_sizes()).most_common()

    def image_size(self) -> tuple[int, int] | None:
        """The common ``(width, height)`` of all frames, or None when sizes differ."""
        sizes = set(self.image_sizes())
        return sizes.pop() if len(sizes) == 1 else None

    # ----- selection -----
    def index_of(self, frame_ids: Sequence[str]) -> np.ndarray:
        """Row indices of ``frame_ids``; raises KeyError naming the first unknown id."""
        lookup = {f: i for i, f in enumerate(self.frame_ids)}
        missing = [f for f in frame_ids if f not in lookup]
        if missing:
            raise KeyError(f"frame {missing[0]!r} is not in dataset {self.name!r}")
        return np.array([lookup[f] for f in frame_ids], dtype=int)

    def subset(self, frame_ids: Sequence[str]) -> Dataset:
        """A dataset with only ``frame_ids``, in the given order."""
        idx = self.index_of(frame_ids)
        return replace(
            self,
            frame_ids=tuple(self.frame_ids[i] for i in idx),
            image_paths=tuple(self.image_paths[i] for i in idx),
            points=self.points[idx],
        )

    def with_keypoints(self, names: Sequence[str]) -> Dataset:
        """The same frames with only the keypoints ``names`` (in that order), the edges
        between them and the declared left/right pairs (none when one was cut in half)."""
        cols = [self.keypoints.index(n) for n in names]
        declared = self.skeleton.symmetry_names
        if declared is not None:
            kept = [p for p in declared if p[0] in names and p[1] in names]
            # A declared pair cut in half leaves a side without its partner: never mirror.
            declared = kept if len(kept) == len(declared) else []
        skeleton = Skeleton.from_names(names, self.skeleton.edge_names, declared)
        return replace(self, skeleton=skeleton, points=self.points[:, cols])

    def with_points(self, points: np.ndarray) -> Dataset:
        """The same frames with other points (e.g. predictions' x, y)."""
        return replace(self, points=np.asarray(points, dtype=np.float64)[..., :2])

    # ----- identity -----
    def content_hash(self) -> str:
        """SHA-256 of keypoint names, frame ids and labels (not of image bytes).

        Two datasets with the same hash have the same frames, keypoints and labels, so a split
        made for one applies to the other.
        """
        h = hashlib.sha256()
        h.update(json.dumps([list(self.keypoints), list(self.frame_ids)]).encode())
        # Round to 1e-6 px so float noise from CSV vs h5 storage does not change the hash.
        pts = np.round(self.points, 6)
        pts = np.where(np.isnan(pts), np.nan, pts)  # one NaN bit pattern
        h.update(np.ascontiguousarray(pts, dtype="<f8").tobytes())
        return h.hexdigest()

    def summary(self) -> dict:
        """The facts ``kpbench info`` prints.

        ``image_size`` is the common ``[width, height]`` (None when sizes differ);
        ``image_sizes`` lists every size as ``{"size": [w, h], "frames": n}``, most frames first.
        ``flip_pairs`` are the left/right pairs a mirror would swap (``[left, right]`` names,
        empty when nothing may mirror, ``flip_off_reason`` then says why) and
        ``flip_pairs_source`` where they come from (``declared`` or ``names``).
        ``keypoint_separation_px`` and ``animal_size_px`` are the label geometry the input
        resolution rule reads (:mod:`benchmark.resolution`; None with too few labels).
        """
        from benchmark.resolution import label_geometry

        counts = self.image_size_counts()
        separation, animal = label_geometry(self)
        mirror = self.skeleton.mirroring()
        size = counts[0][0] if len(counts) == 1 else None
        return {
            "name": self.name,
            "format": self.format,
            "n_frames": self.n_frames,
            "keypoints": list(self.keypoints),
            "n_labeled": self.n_labeled,
            "n_missing": self.n_missing,
            "image_size": list(size) if size else None,
            "image_sizes": [{"size": list(wh), "frames": n} for wh, n in counts],
            "species": self.meta.get("species"),
            "synthetic": bool(self.meta.get("synthetic", False)),
            "flip_pairs": [[self.keypoints[a], self.keypoints[b]] for a, b in mirror.pairs],
            "flip_pairs_source": mirror.source,
            "flip_off_reason": mirror.reason or None,
            "keypoint_separation_px": separation,
            "animal_size_px": animal,
        }
