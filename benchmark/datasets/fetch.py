"""Local copies of registered datasets: real data fetched with checksums, synthetic rendered.

A real dataset is downloaded from its origin (pooch), or copied from a local mirror
``$KPBENCH_DATA_MIRROR/<name>``, into the cache (never into the repository), and every
checksum is verified. A synthetic dataset is rendered by :mod:`benchmark.synthetic` on
first use, also into the cache. A failure leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.dataset import Dataset, Skeleton
from benchmark.datasets.manifest import (
    DatasetUnavailableError,
    Manifest,
    get_manifest,
    list_manifests,
)
from benchmark.errors import InputError
from benchmark.paths import CACHE_ENV, cache_dir, sha256_file, writable_dir

MIRROR_ENV = "KPBENCH_DATA_MIRROR"
GENERATED_MARKER = "kpbench-generated.json"


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
    """A temporary folder beside ``target``, renamed onto it only when the block succeeds.

    Raises:
        InputError: The cache cannot be written (naming ``KPBENCH_CACHE``).
    """
    writable_dir(target.parent, CACHE_ENV)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache folder should not be
        # An incomplete old copy (e.g. a file deleted by hand) is replaced whole.
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
        actual = sha256_file(out)
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
    params = {
        "generator": manifest.generator,
        "seed": manifest.seed,
        "n_frames": manifest.n_frames,
        "image_size": list(manifest.image_size),
        "version": _generator_version(),
    }
    if manifest.variant != "default":  # so copies made before variants existed stay valid
        params["variant"] = manifest.variant
    return params


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
        variant=manifest.variant,
    )
    (out_dir / GENERATED_MARKER).write_text(json.dumps(_wanted_params(manifest)), "utf-8")
