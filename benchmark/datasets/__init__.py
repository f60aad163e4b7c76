"""Dataset registry: manifests, fetched real data, generated synthetic data, previews.

- :mod:`~benchmark.datasets.manifest`: what each dataset is (``manifests/*.yaml``).
- :mod:`~benchmark.datasets.fetch`: its local copy (download or mirror with checksums, or
  rendering), and loading it as a :class:`~benchmark.dataset.Dataset`.
- :mod:`~benchmark.datasets.preview`: a PNG of labelled frames.
"""

from benchmark.datasets.fetch import (
    GENERATED_MARKER,
    MIRROR_ENV,
    dataset_path,
    datasets_table,
    fetch,
    is_present,
    load_dataset,
    local_dir,
    with_manifest,
)
from benchmark.datasets.manifest import (
    MANIFEST_DIR_ENV,
    SHIPPED_MANIFESTS,
    DatasetUnavailableError,
    Manifest,
    ManifestFile,
    UnknownDatasetError,
    get_manifest,
    list_manifests,
    load_manifest,
    manifests_dir,
)
from benchmark.datasets.preview import preview

__all__ = [
    "GENERATED_MARKER",
    "MANIFEST_DIR_ENV",
    "MIRROR_ENV",
    "SHIPPED_MANIFESTS",
    "DatasetUnavailableError",
    "Manifest",
    "ManifestFile",
    "UnknownDatasetError",
    "dataset_path",
    "datasets_table",
    "fetch",
    "get_manifest",
    "is_present",
    "list_manifests",
    "load_dataset",
    "load_manifest",
    "local_dir",
    "manifests_dir",
    "preview",
    "with_manifest",
]
