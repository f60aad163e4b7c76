"""Dataset manifests: what a dataset is (species, keypoints, licence, citation, files).

A manifest (``manifests/<name>.yaml`` of this package) says what a dataset is: species,
whether it is synthetic, keypoints, licence, citation; a real dataset lists its files with
one sha256 each, a synthetic one names its generator, seed and (optionally) variant.
"""

from __future__ import annotations

import difflib
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from benchmark.dataset import Skeleton
from benchmark.errors import InputError, KpbenchError

#: The manifests kpbench ships (package data).
SHIPPED_MANIFESTS = Path(__file__).resolve().parent / "manifests"
MANIFEST_DIR_ENV = "KPBENCH_MANIFEST_DIR"
KINDS = ("real", "synthetic")

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
        variant: A synthetic dataset's recording setup (``default``, or e.g. ``shifted``).
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
    variant: str = "default"

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
    """Folder of manifests: ``$KPBENCH_MANIFEST_DIR``, else the ones kpbench ships
    (``benchmark/datasets/manifests/``, package data; ``datasets/`` links there)."""
    env = os.environ.get(MANIFEST_DIR_ENV)
    return Path(env) if env else SHIPPED_MANIFESTS


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
        variant = gen.get("variant", "default")
        if not isinstance(variant, str) or not variant:
            raise bad(f"generator.variant must be a name (e.g. shifted), not {variant!r}")
        return Manifest(**common, generator=gen["kind"], seed=seed, variant=variant)

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
