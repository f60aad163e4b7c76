"""The synthetic rat's shifted recording setup: same skeleton, other arena, light, camera, coat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.io.dlc import read_dlc_project
from benchmark.synthetic import (
    DEFAULT_VARIANT,
    VIDEOS,
    generate,
    render_frames,
    skeleton,
    variants,
)
from benchmark.synthetic.rat import DEFAULT, SETUPS, SHIFTED, Setup

TINY = {"n_frames": 4, "size": (160, 120)}
# The datasets' own size and seeds (synthetic-rat: seed 0, synthetic-rat-shifted: seed 1).
SIZE = (320, 240)
N_FRAMES = 60


def _stats(variant: str, seed: int) -> tuple[float, float]:
    """Mean grey level, and median spine length in px (snout, neck, mid back, tail base:
    the sum of the three distances, which bending hardly changes), over the first frames."""
    names = skeleton("rat").keypoints
    images, points = zip(*render_frames("rat", N_FRAMES, SIZE, seed, variant), strict=True)
    pts = np.array(points)
    chain = pts[:, [names.index(k) for k in ("snout", "neck", "mid_back", "tail_base")]]
    length = np.linalg.norm(np.diff(chain, axis=1), axis=2).sum(axis=1)
    return float(np.mean(images)), float(np.nanmedian(length))


@pytest.fixture(scope="module")
def stats() -> dict[str, tuple[float, float]]:
    return {"default": _stats("default", 0), "shifted": _stats("shifted", 1)}


def test_the_rat_has_a_default_and_a_shifted_setup():
    assert variants("rat") == (DEFAULT_VARIANT, "shifted")
    assert variants("rabbit") == (DEFAULT_VARIANT,)
    assert SETUPS == {"default": DEFAULT, "shifted": SHIFTED}
    assert Setup() == DEFAULT
    with pytest.raises(AttributeError):  # frozen
        SHIFTED.scale = 1.0  # type: ignore[misc]


def test_unknown_variant_is_refused_before_anything_is_written(tmp_path: Path):
    with pytest.raises(ValueError, match=r"unknown variant 'dusk'.*default, shifted"):
        next(render_frames("rat", 2, (64, 48), 0, "dusk"))
    with pytest.raises(ValueError, match="unknown variant 'shifted' of the synthetic rabbit"):
        generate("rabbit", tmp_path / "out", variant="shifted", **TINY)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def shifted_project(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shifted")
    return generate("rat", out, seed=1, variant="shifted", **TINY)


def test_shifted_project_has_the_rats_skeleton_and_records_its_variant(shifted_project: Path):
    ds, _ = read_dlc_project(shifted_project)
    rat = skeleton("rat")
    assert ds.keypoints == rat.keypoints  # same names, same label order
    assert ds.skeleton.edge_names == rat.edge_names
    assert ds.n_frames == 4 and ds.image_size() == (160, 120)
    video = f"{VIDEOS['rat']}_shifted"
    assert ds.frame_ids[0] == f"labeled-data/{video}/img0000.png"
    assert (shifted_project / "videos" / f"{video}.mp4").is_file()
    meta = yaml.safe_load((shifted_project / "kpbench.yaml").read_text())
    assert (meta["generator"], meta["variant"], meta["seed"]) == ("rat", "shifted", 1)
    assert meta["species"] == "rat" and meta["synthetic"] is True
    cfg = yaml.safe_load((shifted_project / "config.yaml").read_text())
    assert cfg["Task"] == "synthetic-rat-shifted"


def test_shifted_variant_is_deterministic(shifted_project: Path, tmp_path: Path):
    again = generate("rat", tmp_path / "again", seed=1, variant="shifted", **TINY)
    folder = f"labeled-data/{VIDEOS['rat']}_shifted"
    rels = [
        f"{folder}/CollectedData_kpbench.csv",
        f"videos/{VIDEOS['rat']}_shifted_groundtruth.csv",
    ]
    rels += [f"{folder}/{p.name}" for p in sorted((shifted_project / folder).glob("*.png"))]
    assert len(rels) == 2 + 4
    for rel in rels:
        assert (shifted_project / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_default_variant_is_the_plain_render():
    plain = list(render_frames("rat", 3, (160, 120), 5))
    named = list(render_frames("rat", 3, (160, 120), 5, "default"))
    for (a, pa), (b, pb) in zip(plain, named, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(pa, pb)


def test_shifted_setup_is_darker(stats):
    # Measured on 60 frames at 320x240: default 86, shifted 42 grey levels.
    default, shifted = stats["default"][0], stats["shifted"][0]
    assert default - shifted > 25, (default, shifted)


def test_shifted_camera_shows_the_rat_smaller(stats):
    # Higher camera: the rat appears at 0.75x (measured spine 72 px vs 53 px, ratio 0.74).
    ratio = stats["shifted"][1] / stats["default"][1]
    assert 0.65 < ratio < 0.85, ratio


def test_shifted_arena_is_walled_on_the_right_and_the_rat_is_white():
    image, pts = next(render_frames("rat", 1, SIZE, 1, "shifted"))
    grey = image[..., 0].astype(float)
    # The floor ends at 0.88 of the width: beyond the wall there is only the dark outside.
    assert grey[:, 300:].mean() < 20
    # The albino rat is far brighter than the floor around it.
    j = skeleton("rat").keypoints.index("mid_back")
    x, y = np.round(pts[j]).astype(int)
    assert grey[y, x] - np.median(grey[40:200, 60:260]) > 80
