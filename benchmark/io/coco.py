"""COCO keypoints json (single animal per image): reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError


def is_coco_keypoints(data: object) -> bool:
    """True when ``data`` (parsed json) looks like a COCO keypoints file."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("images"), list)
        and isinstance(data.get("annotations"), list)
        and isinstance(data.get("categories"), list)
        and bool(data["categories"])
        and isinstance(data["categories"][0], dict)
        and "keypoints" in data["categories"][0]
    )


def _image_path(file_name: str, root: Path) -> Path:
    """The image for ``file_name``, relative to the json's folder or an ``images/`` sibling."""
    p = Path(file_name)
    if p.is_absolute():
        return p
    for base in (root, root / "images"):
        if (base / p).is_file():
            return base / p
    return root / p


def read_coco(path: Path, *, name: str | None = None) -> tuple[Dataset, tuple[Path, ...]]:
    """Read a COCO keypoints json; images without an annotation are skipped.

    Keypoint names come from ``categories[0].keypoints``, edges from its 1-based ``skeleton``;
    visibility 0 means not labelled.

    Raises:
        InputError: Not COCO keypoints, several categories or several annotations on one image,
            or annotations that do not match the keypoint list.
    """
    path = Path(path).resolve()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable json file ({exc})") from None
    if not is_coco_keypoints(data):
        raise InputError(
            path, "not a COCO keypoints file (needs images, annotations, categories[].keypoints)"
        )
    categories = data["categories"]
    if len(categories) > 1:
        raise InputError(path, f"{len(categories)} categories; only one is supported")
    cat = categories[0]
    keypoints = [str(k) for k in cat["keypoints"]]
    k = len(keypoints)
    edges = []
    for e in cat.get("skeleton") or []:
        a, b = int(e[0]) - 1, int(e[1]) - 1
        if not (0 <= a < k and 0 <= b < k):
            raise InputError(path, f"skeleton edge {e} refers to a keypoint outside 1..{k}")
        edges.append((a, b))
    images = {img["id"]: img for img in data["images"]}
    by_image: dict = {}
    for ann in data["annotations"]:
        if "keypoints" not in ann:
            continue
        img_id = ann.get("image_id")
        if img_id not in images:
            raise InputError(path, f"annotation {ann.get('id')} refers to unknown image {img_id!r}")
        if img_id in by_image:
            raise InputError(
                path,
                f"image {images[img_id].get('file_name')!r} has several annotations; "
                "multi-animal labels are not supported yet",
            )
        by_image[img_id] = ann
    ids, paths, points = [], [], []
    for img_id, img in images.items():
        ann = by_image.get(img_id)
        if ann is None:
            continue
        flat = np.asarray(ann["keypoints"], dtype=np.float64)
        if flat.size != 3 * k:
            raise InputError(
                path,
                f"annotation {ann.get('id')} has {flat.size} keypoint values, expected {3 * k}",
            )
        kp = flat.reshape(k, 3)
        pts = kp[:, :2].copy()
        pts[kp[:, 2] <= 0] = np.nan
        file_name = str(img["file_name"]).replace("\\", "/")
        ids.append(file_name)
        paths.append(_image_path(file_name, path.parent))
        points.append(pts)
    ds = Dataset(
        name=name or path.stem,
        skeleton=Skeleton(tuple(keypoints), tuple(edges)),
        frame_ids=tuple(ids),
        image_paths=tuple(paths),
        points=np.array(points).reshape(len(ids), k, 2),
        source=path,
        format="coco",
        meta={"species": cat.get("name")} if cat.get("name") else {},
    )
    return ds, (path,) * ds.n_frames


__all__ = ["is_coco_keypoints", "read_coco"]
