"""Dataset registry: manifests, fetching through a mirror, checksums, errors, previews."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from benchmark import datasets
from benchmark.datasets import DatasetUnavailableError, UnknownDatasetError
from benchmark.errors import InputError
from benchmark.paths import sha256_file

MOUSE = "dlc-openfield-mouse"
SHIFTED = "synthetic-rat-shifted"
# Files the shared mirror adds that are not part of the upstream dataset.
MIRROR_ADDITIONS = {"SOURCE.md", "SHA256SUMS"}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty kpbench cache in tmp, the repo's manifests, and no mirror set."""
    monkeypatch.setenv("KPBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KPBENCH_MANIFEST_DIR", raising=False)
    monkeypatch.delenv("KPBENCH_DATA_MIRROR", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def mirrored(cache: Path, openfield_mouse_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The empty cache of ``cache``, with the shared dataset folder as mirror."""
    monkeypatch.setenv("KPBENCH_DATA_MIRROR", str(openfield_mouse_dir.parent))
    return cache


def _write_manifest(folder: Path, raw: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _mouse_raw() -> dict:
    return yaml.safe_load((datasets.SHIPPED_MANIFESTS / f"{MOUSE}.yaml").read_text())


def _leftovers(cache: Path) -> list[str]:
    root = cache / "datasets"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# ----- manifests -----
def test_repo_manifests_parse_with_truthful_species(cache: Path) -> None:
    manifests = {m.name: m for m in datasets.list_manifests()}
    assert set(manifests) == {MOUSE, "synthetic-rat", "synthetic-rat-shifted", "synthetic-rabbit"}
    mouse = manifests[MOUSE]
    assert (mouse.species, mouse.synthetic, mouse.kind) == ("mouse", False, "real")
    assert mouse.species_label == "mouse"
    assert (mouse.n_frames, mouse.image_size) == (116, (640, 480))
    assert mouse.keypoints == ("snout", "leftear", "rightear", "tailbase")
    assert mouse.licence == "LGPL-3.0" and "copyrighted" in mouse.licence_note
    assert "Mathisetal2018" in mouse.citation
    rat, rabbit = manifests["synthetic-rat"], manifests["synthetic-rabbit"]
    assert rat.species_label == "rat (synthetic)" and rat.generator == "rat"
    assert rabbit.species_label == "rabbit (synthetic)" and rabbit.generator == "rabbit"
    assert rat.keypoints[-1] == "tail_tip" and len(rabbit.keypoints) == 8
    assert {rat.licence, rabbit.licence} == {"MIT"}
    assert (rat.n_frames, rat.image_size) == (240, (320, 240))


def test_shifted_rat_manifest_is_the_rat_in_another_setup(cache: Path) -> None:
    rat, shifted = datasets.get_manifest("synthetic-rat"), datasets.get_manifest(SHIFTED)
    assert (rat.variant, shifted.variant) == ("default", "shifted")
    assert shifted.generator == "rat" and shifted.seed != rat.seed
    assert shifted.keypoints == rat.keypoints and shifted.edges == rat.edges
    assert (shifted.n_frames, shifted.image_size) == (rat.n_frames, rat.image_size)
    assert shifted.species_label == "rat (synthetic)" and shifted.licence == "MIT"
    assert "shifted" in shifted.title and shifted.title != rat.title


def test_shifted_rat_is_listed_by_the_cli(cache: Path, capsys: pytest.CaptureFixture) -> None:
    from benchmark.cli import main

    assert main(["datasets", "list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    row = next(r for r in rows if r[0] == SHIFTED)
    assert row[1:4] == ["rat", "(synthetic)", "240"] and row[4] == "8"
    assert row[-1] == "False"  # listing generates nothing


def test_mouse_manifest_matches_mirror_checksums(openfield_mouse_dir: Path) -> None:
    sums = {}
    for line in (openfield_mouse_dir / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        sums[rel.removeprefix("./")] = digest
    manifest = datasets.load_manifest(datasets.SHIPPED_MANIFESTS / f"{MOUSE}.yaml")
    assert {f.path: f.sha256 for f in manifest.files} == sums
    urls = {f.path: f.url for f in manifest.files}
    commit = "2df0f46c8c8c56c8238b46b3d58384163bafb2f0"
    assert urls["config.yaml"].endswith(
        f"/{commit}/examples/openfield-Pranav-2018-10-30/config.yaml"
    )
    # The licence copy is the repository's root LICENSE, not a file in the example folder.
    assert urls["LICENSE.LGPL-3.0.txt"].endswith(f"/{commit}/LICENSE")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"synthetic": True}, "contradicts"),
        ({"kind": "scraped"}, "kind must be"),
        ({"colour": "brown"}, "unknown key"),
        ({"name": "other"}, "does not match the file name"),
        ({"image_size": [640]}, "image_size"),
        ({"edges": [["snout", "whisker"]]}, "edge"),
        ({"files": [{"path": "../x.png", "sha256": "0" * 64}]}, "relative"),
        ({"files": [{"path": "x.png", "sha256": "abc"}]}, "64 hex"),
    ],
)
def test_bad_manifest_names_the_file(tmp_path: Path, change: dict, problem: str) -> None:
    raw = _mouse_raw() | change
    path = tmp_path / f"{MOUSE}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(InputError, match=problem) as info:
        datasets.load_manifest(path)
    assert info.value.path == path


def test_manifest_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML") as info:
        datasets.load_manifest(path)
    assert info.value.path == path


def test_unknown_name_suggests_the_closest(cache: Path) -> None:
    with pytest.raises(UnknownDatasetError, match="did you mean 'dlc-openfield-mouse'"):
        datasets.get_manifest("dlc-openfeld-mouse")
    with pytest.raises(UnknownDatasetError, match=re.escape("unknown dataset '../datasets/x'")):
        datasets.get_manifest("../datasets/x")


# ----- fetching real data -----
def test_fetch_through_mirror_verifies_every_file(mirrored: Path) -> None:
    assert not datasets.is_present(MOUSE)
    folder = datasets.fetch(MOUSE)
    assert folder == mirrored / "datasets" / MOUSE
    manifest = datasets.get_manifest(MOUSE)
    copied = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert copied == sorted(f.path for f in manifest.files)
    assert not MIRROR_ADDITIONS & set(copied)
    assert all(sha256_file(folder / f.path) == f.sha256 for f in manifest.files)
    assert datasets.is_present(MOUSE)
    assert _leftovers(mirrored) == [MOUSE]  # no staging folder left behind
    # A second call finds it present and copies nothing.
    stamp = (folder / "config.yaml").stat().st_mtime_ns
    assert datasets.dataset_path(MOUSE) == folder
    assert (folder / "config.yaml").stat().st_mtime_ns == stamp


def test_corrupt_mirror_copy_fails_naming_the_file(
    cache: Path, openfield_mouse_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(openfield_mouse_dir, mirror / MOUSE)
    bad = mirror / MOUSE / "labeled-data" / "m4s1" / "img0057.png"
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setenv("KPBENCH_DATA_MIRROR", str(mirror))
    expected = sha256_file(openfield_mouse_dir / "labeled-data" / "m4s1" / "img0057.png")
    with pytest.raises(InputError, match="sha256 mismatch") as info:
        datasets.fetch(MOUSE)
    assert info.value.path == bad
    assert expected in info.value.problem
    assert sha256_file(bad) in info.value.problem
    assert _leftovers(cache) == []  # nothing half-written
    assert not datasets.is_present(MOUSE)


def test_file_missing_from_mirror_is_named(
    cache: Path, openfield_mouse_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror" / MOUSE
    mirror.mkdir(parents=True)
    shutil.copy(openfield_mouse_dir / "config.yaml", mirror / "config.yaml")
    monkeypatch.setenv("KPBENCH_DATA_MIRROR", str(mirror.parent))
    with pytest.raises(InputError, match="missing from the mirror") as info:
        datasets.fetch(MOUSE)
    assert info.value.path == mirror / "LICENSE.LGPL-3.0.txt"
    assert _leftovers(cache) == []


@pytest.fixture
def unreachable(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of the mouse manifest whose origin is a closed local port (no network used)."""
    raw = _mouse_raw()
    raw["origin"]["base_url"] = "http://127.0.0.1:9/"
    raw["files"] = [{k: v for k, v in f.items() if k != "url"} for f in raw["files"]]
    _write_manifest(tmp_path / "manifests", raw)
    monkeypatch.setenv("KPBENCH_MANIFEST_DIR", str(tmp_path / "manifests"))
    return MOUSE


def test_no_mirror_and_unreachable_origin_is_a_clear_error(unreachable: str, cache: Path) -> None:
    with pytest.raises(DatasetUnavailableError) as info:
        datasets.fetch(unreachable)
    message = str(info.value)
    assert "origin is unreachable" in message and "127.0.0.1:9" in message
    assert "KPBENCH_DATA_MIRROR is not set" in message
    assert "set KPBENCH_DATA_MIRROR=DIR" in message
    assert _leftovers(cache) == []


def test_mirror_without_the_dataset_falls_back_to_origin(
    unreachable: str, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv("KPBENCH_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    with pytest.raises(DatasetUnavailableError, match="empty-mirror has no dlc-openfield-mouse/"):
        datasets.fetch(unreachable)


# ----- reading, listing, previews -----
def test_with_manifest_rejects_other_keypoints(blob_dataset, cache: Path) -> None:
    with pytest.raises(InputError, match="differ from"):
        datasets.with_manifest(blob_dataset, datasets.get_manifest(MOUSE))


def test_datasets_table_rows(mirrored: Path) -> None:
    rows = {r["name"]: r for r in datasets.datasets_table()}
    assert rows[MOUSE] == {
        "name": MOUSE,
        "species": "mouse",
        "frames": 116,
        "keypoints": 4,
        "licence": "LGPL-3.0",
        "present": False,
    }
    assert rows["synthetic-rat"]["species"] == "rat (synthetic)"
    assert rows["synthetic-rabbit"]["species"] == "rabbit (synthetic)"
    assert rows[SHIFTED]["species"] == "rat (synthetic)" and rows[SHIFTED]["frames"] == 240
    datasets.fetch(MOUSE)
    assert {r["name"]: r["present"] for r in datasets.datasets_table()}[MOUSE] is True


def _assert_nontrivial_png(path: Path, min_size: tuple[int, int], n_keypoints: int) -> None:
    """A PNG with image content and a marker in each keypoint's colour (tab10)."""
    from matplotlib import colormaps

    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.width >= min_size[0] and im.height >= min_size[1]
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
    assert pixels.std() > 20  # real image content, not a blank canvas
    for rgba in colormaps["tab10"](np.arange(n_keypoints)):
        colour = np.round(np.asarray(rgba[:3]) * 255)
        assert (np.abs(pixels - colour).max(axis=1) <= 8).sum() > 50


def test_load_and_preview_the_mouse_data(mirrored: Path, tmp_path: Path) -> None:
    ds = datasets.load_dataset(MOUSE)
    assert ds.name == MOUSE
    assert (ds.n_frames, ds.keypoints) == (116, ("snout", "leftear", "rightear", "tailbase"))
    assert ds.meta["species"] == "mouse" and ds.meta["synthetic"] is False
    assert ds.summary()["species"] == "mouse"
    assert ds.skeleton.edge_names  # the manifest's drawing edges, as the project has none

    out = datasets.preview(ds, tmp_path / "mouse.png", n=6)
    assert out == tmp_path / "mouse.png"
    _assert_nontrivial_png(out, (800, 400), 4)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_preview_of_a_loaded_dataset(blob_dataset, tmp_path: Path) -> None:
    out = datasets.preview(blob_dataset, tmp_path / "blobs.png", n=20, seed=1)
    _assert_nontrivial_png(out, (400, 200), 4)


# ----- synthetic data -----
@pytest.fixture
def tiny_synthetic(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A manifest folder holding a copy of synthetic-rat shrunk to 6 frames of 160x120."""
    raw = yaml.safe_load((datasets.SHIPPED_MANIFESTS / "synthetic-rat.yaml").read_text())
    raw |= {"n_frames": 6, "image_size": [160, 120]}
    _write_manifest(tmp_path / "manifests", raw)
    monkeypatch.setenv("KPBENCH_MANIFEST_DIR", str(tmp_path / "manifests"))
    return raw["name"]


def test_synthetic_dataset_is_generated_once_into_the_cache(
    tiny_synthetic: str, cache: Path
) -> None:
    from benchmark.synthetic import GENERATOR_VERSION

    assert not datasets.is_present(tiny_synthetic)
    folder = datasets.dataset_path(tiny_synthetic)
    assert folder == cache / "datasets" / f"{tiny_synthetic}-0-{GENERATOR_VERSION}"
    assert (folder / "config.yaml").is_file()
    assert datasets.is_present(tiny_synthetic)
    assert _leftovers(cache) == [folder.name]
    stamp = (folder / "config.yaml").stat().st_mtime_ns
    assert datasets.fetch(tiny_synthetic) == folder
    assert (folder / "config.yaml").stat().st_mtime_ns == stamp

    ds = datasets.load_dataset(tiny_synthetic)
    assert ds.n_frames == 6 and ds.meta["species"] == "rat" and ds.meta["synthetic"] is True
    assert ds.image_size() == (160, 120)


@pytest.fixture
def tiny_shifted(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A manifest folder holding copies of both rat datasets shrunk to 6 frames of 160x120."""
    for name in ("synthetic-rat", SHIFTED):
        raw = yaml.safe_load((datasets.SHIPPED_MANIFESTS / f"{name}.yaml").read_text())
        _write_manifest(tmp_path / "manifests", raw | {"n_frames": 6, "image_size": [160, 120]})
    monkeypatch.setenv("KPBENCH_MANIFEST_DIR", str(tmp_path / "manifests"))
    return SHIFTED


def test_shifted_rat_is_generated_into_the_cache_and_loads(tiny_shifted: str, cache: Path) -> None:
    import json

    from benchmark.synthetic import GENERATOR_VERSION

    folder = datasets.dataset_path(tiny_shifted)
    assert folder == cache / "datasets" / f"{SHIFTED}-1-{GENERATOR_VERSION}"
    marker = json.loads((folder / datasets.GENERATED_MARKER).read_text())
    assert (marker["generator"], marker["variant"], marker["seed"]) == ("rat", "shifted", 1)
    assert yaml.safe_load((folder / "kpbench.yaml").read_text())["variant"] == "shifted"
    assert datasets.is_present(tiny_shifted) and not datasets.is_present("synthetic-rat")

    ds = datasets.load_dataset(tiny_shifted)
    rat = datasets.load_dataset("synthetic-rat")
    assert ds.name == SHIFTED and ds.n_frames == 6 and ds.image_size() == (160, 120)
    assert ds.keypoints == rat.keypoints and ds.skeleton.edge_names == rat.skeleton.edge_names
    assert ds.meta["species"] == "rat" and ds.meta["synthetic"] is True
    assert "rat_openfield_shifted" in ds.frame_ids[0]
    assert not set(ds.frame_ids) & set(rat.frame_ids)  # no frame id is shared across setups
    # The default rat's cache marker is as before variants existed (old copies stay valid).
    assert "variant" not in json.loads(
        (datasets.dataset_path("synthetic-rat") / datasets.GENERATED_MARKER).read_text()
    )


def test_bad_generator_variant_names_the_file(tmp_path: Path) -> None:
    raw = yaml.safe_load((datasets.SHIPPED_MANIFESTS / f"{SHIFTED}.yaml").read_text())
    raw["generator"]["variant"] = 2
    path = _write_manifest(tmp_path, raw)
    with pytest.raises(InputError, match=r"generator\.variant") as info:
        datasets.load_manifest(path)
    assert info.value.path == path


# ----- downloading (from a local HTTP server, so no network is needed) -----
@pytest.fixture
def served(cache: Path, openfield_mouse_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of four mouse files served over HTTP on 127.0.0.1, and a manifest pointing at it.

    Yields the served folder, so a test can corrupt a file before fetching.
    """
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path / "served"
    keep = ["config.yaml", "labeled-data/m4s1/CollectedData_Pranav.csv"]
    keep += ["labeled-data/m4s1/img0000.png", "labeled-data/m4s1/img0001.png"]
    for rel in keep:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(openfield_mouse_dir / rel, root / rel)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    raw = _mouse_raw()
    raw["origin"]["base_url"] = f"http://127.0.0.1:{server.server_address[1]}/"
    raw["files"] = [{"path": f["path"], "sha256": f["sha256"]} for f in raw["files"]]
    raw["files"] = [f for f in raw["files"] if f["path"] in keep]
    _write_manifest(tmp_path / "manifests", raw)
    monkeypatch.setenv("KPBENCH_MANIFEST_DIR", str(tmp_path / "manifests"))
    yield root
    server.shutdown()
    server.server_close()


def test_download_from_origin_verifies_checksums(served: Path, cache: Path) -> None:
    folder = datasets.fetch(MOUSE)
    for f in datasets.get_manifest(MOUSE).files:
        assert sha256_file(folder / f.path) == f.sha256
    assert _leftovers(cache) == [MOUSE]


def test_download_with_wrong_checksum_names_the_file(served: Path, cache: Path) -> None:
    bad = served / "labeled-data" / "m4s1" / "img0001.png"
    expected = sha256_file(bad)
    bad.write_bytes(bad.read_bytes()[:-10])  # truncated in transit
    with pytest.raises(InputError, match="sha256 mismatch") as info:
        datasets.fetch(MOUSE)
    assert info.value.path == Path(MOUSE, "labeled-data", "m4s1", "img0001.png")
    assert "http://127.0.0.1:" in info.value.problem
    assert expected in info.value.problem and sha256_file(bad) in info.value.problem
    assert _leftovers(cache) == []


@pytest.mark.parametrize("below", ["", "cache"])
def test_fetch_into_a_read_only_cache_is_one_line_naming_it(
    read_only_dir: Path, below: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Before: a PermissionError (OSError EROFS) traceback."""
    from benchmark.cli import main

    monkeypatch.setenv("KPBENCH_CACHE", str(read_only_dir / below))
    assert main(["datasets", "fetch", "synthetic-rat"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kpbench: error: {read_only_dir}") and err.count("\n") == 1
    assert "cannot write here (Read-only file system); set KPBENCH_CACHE to a writable" in err
