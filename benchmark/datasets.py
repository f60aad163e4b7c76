"""Dataset registry: manifests in ``datasets/``, fetched real data, generated synthetic data.

A manifest (``datasets/<name>.yaml``) says what a dataset is: species, whether it is synthetic,
keypoints, licence, citation. A real dataset lists its files with one sha256 each; it is
downloaded from its origin, or copied from a local mirror ``$KPBENCH_DATA_MIRROR/<name>``, into
the cache (never into the repository), and every checksum is verified. A synthetic dataset is
rendered by :mod:`benchmark.synthetic` on first use, also into the cache.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError, KpbenchError
from benchmark.paths import atomic_path, cache_dir, repo_root

MIRROR_ENV = "KPBENCH_DATA_MIRROR"
MANIFEST_DIR_ENV = "KPBENCH_MANIFEST_DIR"
KINDS = ("real", "synthetic")
GENERATED_MARKER = "kpbench-generated.json"

_COMMON_KEYS = {
    "name",
    "title",
    "kind",
    "species",
    "synthetic",
    "format",
    "n_frames",
    "image_size",
    "keypoints",
    "edges",
    "licence",
    "citation",
}
_KIND_KEYS = {"real": {"origin", "files"}, "synthetic": {"generator"}}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UnknownDatasetError(KpbenchError):
    """No manifest has the requested dataset name."""


class DatasetUnavailableError(KpbenchError):
    """A real dataset can be had neither from its origin nor from a local mirror."""


@dataclass(frozen=True)
class ManifestFile:
    """One file of a real dataset: path inside the dataset folder, checksum, download URL."""

    path: str
    sha256: str
    url: str


@dataclass(frozen=True)
class Manifest:
    """A validated dataset manifest (see :func:`load_manifest`).

    Attributes:
        name: Dataset name, equal to the manifest's file name without ``.yaml``.
        title: One-line description.
        kind: ``real`` (fetched) or ``synthetic`` (generated).
        species: The animal shown, truthfully (``mouse`` for the open-field data).
        synthetic: True for generated data; always equals ``kind == "synthetic"``.
        format: Format of the local copy (``deeplabcut``).
        n_frames: Number of labelled frames.
        image_size: ``(width, height)`` in pixels.
        keypoints: Keypoint names in file order.
        edges: Skeleton edges as name pairs, used when the data itself has none.
        licence: Licence identifier (SPDX where there is one).
        licence_note: Caveats about the licence.
        citation: BibTeX to cite when using the data (empty for kpbench's own data).
        source: The manifest file.
        origin: Base URL of a real dataset's files (empty for synthetic data).
        files: A real dataset's files (empty for synthetic data).
        generator: A synthetic dataset's generator kind (``rat``, ``rabbit``).
        seed: A synthetic dataset's generator seed.
    """

    name: str
    title: str
    kind: str
    species: str
    synthetic: bool
    format: str
    n_frames: int
    image_size: tuple[int, int]
    keypoints: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    licence: str
    licence_note: str
    citation: str
    source: Path
    origin: str = ""
    files: tuple[ManifestFile, ...] = ()
    generator: str = ""
    seed: int = 0

    @property
    def species_label(self) -> str:
        """Species as reports show it, e.g. ``mouse`` or ``rat (synthetic)``."""
        return f"{self.species} (synthetic)" if self.synthetic else self.species

    @property
    def meta(self) -> dict[str, Any]:
        """The facts attached to every :class:`Dataset` the registry returns."""
        return {
            "dataset": self.name,
            "title": self.title,
            "species": self.species,
            "synthetic": self.synthetic,
            "kind": self.kind,
            "licence": self.licence,
            "citation": self.citation,
            "manifest": str(self.source),
        }


# ----- manifests -----
def manifests_dir() -> Path:
    """Folder of manifests: ``$KPBENCH_MANIFEST_DIR`` or ``datasets/`` in the source tree."""
    env = os.environ.get(MANIFEST_DIR_ENV)
    return Path(env) if env else repo_root() / "datasets"


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate one manifest file.

    Raises:
        InputError: The file is unreadable, not YAML, or breaks a rule (names the file).
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read manifest ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise InputError(path, f"not valid YAML{at}") from None
    if not isinstance(raw, dict):
        raise InputError(path, "a manifest must be a YAML mapping")
    return _parse_manifest(raw, path)


def _parse_manifest(raw: dict, path: Path) -> Manifest:
    def bad(problem: str) -> InputError:
        return InputError(path, problem)

    def get(key: str, types: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in raw:
            if default is ...:
                raise bad(f"missing required key {key!r}")
            return default
        value = raw[key]
        if not isinstance(value, types) or (types is int and isinstance(value, bool)):
            raise bad(f"{key!r} has the wrong type ({value!r})")
        return value

    kind = get("kind", str)
    if kind not in KINDS:
        raise bad(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    unknown = sorted(set(raw) - _COMMON_KEYS - _KIND_KEYS[kind])
    if unknown:
        raise bad(f"unknown key(s) for a {kind} dataset: {', '.join(map(str, unknown))}")
    name = get("name", str)
    if name != path.stem:
        raise bad(f"name {name!r} does not match the file name {path.name!r}")
    synthetic = get("synthetic", bool)
    if synthetic != (kind == "synthetic"):
        raise bad(f"synthetic: {str(synthetic).lower()} contradicts kind: {kind}")
    n_frames = get("n_frames", int)
    if n_frames <= 0:
        raise bad("n_frames must be positive")
    size = get("image_size", list)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise bad(f"image_size must be [width, height] in pixels, not {size!r}")
    keypoints, edges = get("keypoints", list), get("edges", list, [])
    try:
        skeleton = Skeleton.from_names([str(k) for k in keypoints], [tuple(e) for e in edges])
    except (ValueError, TypeError) as exc:
        raise bad(f"bad keypoints or edges: {exc}") from None
    if len(skeleton.edges) != len(edges):
        raise bad("every edge must be a pair of names from keypoints")
    licence = get("licence", (str, dict))
    if isinstance(licence, str):
        licence = {"id": licence}
    if not isinstance(licence.get("id"), str) or not licence["id"]:
        raise bad("licence needs an id (e.g. MIT, LGPL-3.0)")
    common = dict(
        name=name,
        title=get("title", str),
        kind=kind,
        species=get("species", str),
        synthetic=synthetic,
        format=get("format", str),
        n_frames=n_frames,
        image_size=(size[0], size[1]),
        keypoints=skeleton.keypoints,
        edges=tuple(skeleton.edge_names),
        licence=licence["id"],
        licence_note=str(licence.get("note", "")).strip(),
        citation=str(get("citation", str, "")).strip(),
        source=path,
    )
    if kind == "synthetic":
        gen = get("generator", dict)
        if not isinstance(gen.get("kind"), str):
            raise bad("generator.kind must be a string (e.g. rat)")
        seed = gen.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise bad(f"generator.seed must be an integer, not {seed!r}")
        return Manifest(**common, generator=gen["kind"], seed=seed)

    origin = get("origin", dict)
    base = origin.get("base_url", "")
    if not isinstance(base, str):
        raise bad("origin.base_url must be a URL")
    entries = get("files", list)
    if not entries:
        raise bad("a real dataset must list its files")
    files, seen = [], set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise bad(f"each file needs a path and a sha256, not {entry!r}")
        rel = entry["path"]
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or rel in seen:
            raise bad(f"file path {rel!r} must be relative, inside the dataset, and unique")
        seen.add(rel)
        sha = str(entry.get("sha256", "")).lower()
        if not _SHA256.match(sha):
            raise bad(f"file {rel!r} needs a sha256 of 64 hex digits")
        url = entry.get("url") or (base and base.rstrip("/") + "/" + urllib.parse.quote(rel))
        if not url:
            raise bad(f"file {rel!r} has no url and origin.base_url is not set")
        files.append(ManifestFile(rel, sha, url))
    return Manifest(**common, origin=base, files=tuple(files))


def list_manifests() -> list[Manifest]:
    """All dataset manifests, sorted by name."""
    folder = manifests_dir()
    return [load_manifest(p) for p in sorted(folder.glob("*.yaml"))]


def get_manifest(name: str) -> Manifest:
    """The manifest of dataset ``name``.

    Raises:
        UnknownDatasetError: No such dataset (with a did-you-mean suggestion).
        InputError: Its manifest is invalid.
    """
    folder = manifests_dir()
    path = folder / f"{name}.yaml"
    if PurePosixPath(name).name == name and not name.startswith(".") and path.is_file():
        return load_manifest(path)
    known = sorted(p.stem for p in folder.glob("*.yaml"))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}{hint} (known: {', '.join(known) or 'none'})"
    )


# ----- local copies -----
def local_dir(manifest: Manifest) -> Path:
    """Where the dataset lives in the cache (present or not)."""
    root = cache_dir() / "datasets"
    if manifest.synthetic:
        return root / f"{manifest.name}-{manifest.seed}-{_generator_version()}"
    return root / manifest.name


def is_present(name: str) -> bool:
    """Whether dataset ``name`` is already fetched or generated (nothing is downloaded)."""
    return _is_present(get_manifest(name))


def _is_present(manifest: Manifest) -> bool:
    folder = local_dir(manifest)
    if manifest.synthetic:
        return _generated_params(folder) == _wanted_params(manifest)
    return all((folder / f.path).is_file() for f in manifest.files)


def fetch(name: str) -> Path:
    """Make dataset ``name`` present in the cache and return its folder.

    Real data is copied from ``$KPBENCH_DATA_MIRROR/<name>`` when that folder exists, and
    downloaded from its origin otherwise; every file's sha256 is verified either way.
    Synthetic data is generated. A failure leaves nothing half-written.

    Raises:
        UnknownDatasetError: No such dataset.
        InputError: A file is missing from the mirror or has the wrong checksum.
        DatasetUnavailableError: Neither the origin nor a mirror can provide the data.
    """
    manifest = get_manifest(name)
    target = local_dir(manifest)
    if _is_present(manifest):
        return target
    if manifest.synthetic:
        with _staging(target) as tmp:
            _generate(manifest, tmp)
        return target
    mirror = os.environ.get(MIRROR_ENV)
    with _staging(target) as tmp:
        if mirror and (Path(mirror) / name).is_dir():
            _copy_from_mirror(manifest, Path(mirror) / name, tmp)
        else:
            _download(manifest, tmp, mirror)
    return target


def dataset_path(name: str) -> Path:
    """Local folder of dataset ``name``, fetched or generated on first use (see :func:`fetch`)."""
    return fetch(name)


def load_dataset(name: str) -> Dataset:
    """Dataset ``name`` read from its local folder, with the manifest's facts in ``meta``.

    ``meta`` carries species and synthetic (see :attr:`Manifest.meta`), so reports can
    name the animal truthfully.

    Raises:
        InputError: The data does not match its manifest's keypoints or frame count.
    """
    from benchmark.io import read_dataset

    manifest = get_manifest(name)
    return with_manifest(read_dataset(dataset_path(name)), manifest)


def with_manifest(dataset: Dataset, manifest: Manifest) -> Dataset:
    """``dataset`` renamed after ``manifest``, with its meta, and its edges if it has none.

    Raises:
        InputError: Keypoints or frame count differ from the manifest.
    """
    where = dataset.source or Path(dataset.name)
    if dataset.keypoints != manifest.keypoints:
        raise InputError(
            where,
            f"keypoints {list(dataset.keypoints)} differ from {list(manifest.keypoints)} "
            f"in {manifest.source}",
        )
    if dataset.n_frames != manifest.n_frames:
        raise InputError(
            where,
            f"{dataset.n_frames} frames, but {manifest.source} says {manifest.n_frames}",
        )
    skeleton = dataset.skeleton
    if not skeleton.edges and manifest.edges:
        skeleton = Skeleton.from_names(manifest.keypoints, manifest.edges)
    return replace(
        dataset, name=manifest.name, skeleton=skeleton, meta={**dataset.meta, **manifest.meta}
    )


def datasets_table() -> list[dict[str, Any]]:
    """One row per dataset for ``kpbench datasets list``."""
    return [
        {
            "name": m.name,
            "species": m.species_label,
            "frames": m.n_frames,
            "keypoints": len(m.keypoints),
            "licence": m.licence,
            "present": _is_present(m),
        }
        for m in list_manifests()
    ]


# ----- fetching and generating -----
@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target``, renamed onto it only when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache folder should not be
        # An incomplete old copy (e.g. a file deleted by hand) is replaced whole.
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _progress(manifest: Manifest, verb: str) -> Any:
    from tqdm.auto import tqdm

    # disable=None: a bar on terminals, silent in logs and tests.
    return tqdm(manifest.files, desc=f"{verb} {manifest.name}", unit="file", disable=None)


def _copy_from_mirror(manifest: Manifest, src: Path, dst: Path) -> None:
    for f in _progress(manifest, "copying"):
        source = src / f.path
        if not source.is_file():
            raise InputError(source, f"missing from the mirror ({MIRROR_ENV}={src.parent})")
        out = dst / f.path
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out)
        actual = sha256_of(out)
        if actual != f.sha256:
            raise InputError(source, f"sha256 mismatch: expected {f.sha256}, got {actual}")


def _download(manifest: Manifest, dst: Path, mirror: str | None) -> None:
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=False)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch logs one line per file otherwise
    try:
        for f in _progress(manifest, "downloading"):
            out = dst / f.path
            try:
                pooch.retrieve(
                    f.url,
                    known_hash=f"sha256:{f.sha256}",
                    fname=out.name,
                    path=out.parent,
                    downloader=downloader,
                )
            except requests.RequestException as exc:
                where = (
                    f"{MIRROR_ENV}={mirror} has no {manifest.name}/ folder"
                    if mirror
                    else f"{MIRROR_ENV} is not set"
                )
                raise DatasetUnavailableError(
                    f"cannot fetch dataset {manifest.name!r}: its origin is unreachable "
                    f"({f.url}: {exc.__class__.__name__}) and no local mirror has it ({where}). "
                    f"Connect to the internet, or set {MIRROR_ENV}=DIR where "
                    f"DIR/{manifest.name}/ holds a copy of the dataset's files."
                ) from None
            except ValueError as exc:  # pooch's checksum mismatch
                got = re.search(r"but got ([0-9a-f]{64})", str(exc))
                actual = got.group(1) if got else "a different hash"
                raise InputError(
                    Path(manifest.name) / f.path,
                    f"sha256 mismatch in the download from {f.url}: "
                    f"expected {f.sha256}, got {actual}",
                ) from None
    finally:
        logger.setLevel(level)


def _generator_version() -> str:
    from benchmark.synthetic import GENERATOR_VERSION

    return str(GENERATOR_VERSION)


def _wanted_params(manifest: Manifest) -> dict[str, Any]:
    return {
        "generator": manifest.generator,
        "seed": manifest.seed,
        "n_frames": manifest.n_frames,
        "image_size": list(manifest.image_size),
        "version": _generator_version(),
    }


def _generated_params(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / GENERATED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _generate(manifest: Manifest, out_dir: Path) -> None:
    from benchmark.synthetic import generate

    generate(
        manifest.generator,
        out_dir,
        n_frames=manifest.n_frames,
        size=manifest.image_size,
        seed=manifest.seed,
    )
    (out_dir / GENERATED_MARKER).write_text(json.dumps(_wanted_params(manifest)), "utf-8")


# ----- preview -----
def preview(dataset: Dataset | str | Path, out_png: str | Path, n: int = 12, seed: int = 0) -> Path:
    """Draw ``n`` random frames with their labelled keypoints and skeleton into a PNG.

    Args:
        dataset: A registered dataset name, a dataset folder or file, or a loaded Dataset.
        out_png: The image to write (atomically).
        n: Number of frames (fewer when the dataset is smaller).
        seed: Chooses the frames.

    Returns:
        ``out_png``.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from benchmark.images import read_image

    ds = _as_dataset(dataset)
    count = min(n, ds.n_frames)
    rows_idx = np.sort(np.random.default_rng(seed).choice(ds.n_frames, count, replace=False))
    ncols = min(4, count)
    nrows = math.ceil(count / ncols)
    first = read_image(ds.image_paths[rows_idx[0]])
    aspect = first.shape[0] / first.shape[1]
    fig = Figure(figsize=(3.2 * ncols, 3.2 * nrows * aspect + 1.2), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    k = ds.n_keypoints
    colors = colormaps["tab10" if k <= 10 else "tab20"](np.arange(k) % 20)
    for ax, i in zip(axes.flat, rows_idx, strict=False):
        ax.imshow(first if i == rows_idx[0] else read_image(ds.image_paths[i]))
        pts, ok = ds.points[i], ds.labeled[i]
        for a, b in ds.skeleton.edges:
            if ok[a] and ok[b]:
                ax.plot(*zip(pts[a], pts[b], strict=True), color="white", lw=1.2, alpha=0.8)
        ax.scatter(pts[ok, 0], pts[ok, 1], s=22, c=colors[ok], edgecolors="black", lw=0.6, zorder=3)
        missing = int((~ok).sum())
        note = f" ({missing} unlabelled)" if missing else ""
        ax.set_title(f"{PurePosixPath(ds.frame_ids[i]).name}{note}", fontsize=8)
        ax.set_axis_off()
    for ax in axes.flat[count:]:
        ax.set_axis_off()
    handles = [
        Line2D([], [], ls="", marker="o", color=colors[j], mec="black", label=name)
        for j, name in enumerate(ds.keypoints)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(k, 8), frameon=False)
    species = ds.meta.get("species") or "species unknown"
    if ds.meta.get("synthetic"):
        species += " (synthetic)"
    fig.suptitle(f"{ds.name}: {species}, {ds.n_frames} frames, {k} keypoints")
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return out_png


def _as_dataset(dataset: Dataset | str | Path) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    path = Path(dataset)
    if path.exists():
        from benchmark.io import read_dataset

        return read_dataset(path)
    return load_dataset(str(dataset))
