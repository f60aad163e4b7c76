"""The YOLO adapter's pieces that need no Ultralytics: labels, flip index, mirroring,
augmentation, input size, validation frames, pretrained weights and options (main env)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from adapters.base import ConfigError
from adapters.yolo import adapter as yolo
from adapters.yolo.adapter import (
    YoloAdapter,
    augmentation_args,
    effective_fliplr,
    fit_imgsz,
    flip_index,
    label_line,
    resolve_pretrained,
    user_weights_dirs,
    validation_frames,
    write_data_yaml,
    write_yolo_dataset,
)
from benchmark.dataset import Skeleton
from tests.fixtures import make_blob_dataset, mixed_size_blobs

EARS = ["snout", "left_ear", "right_ear", "tail"]


def test_the_module_imports_nothing_heavy() -> None:
    """The main environment lists adapters by importing this module: no Ultralytics, torch,
    OpenCV or matplotlib at import time."""
    code = (
        "import sys, adapters.yolo.adapter; "
        "print([m for m in ('ultralytics', 'torch', 'cv2', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    assert out.stdout.strip() == "[]"


def test_labels_hold_the_keypoints_box_and_visibility() -> None:
    points = np.array([[10.0, 20.0], [30.0, 40.0], [np.nan, np.nan]])
    values = np.array(label_line(points, 100, 50, margin=0.1).split(), dtype=float)
    # Box: keypoints' box (10..30, 20..40) plus max(0.1 * 20, 4) px on each side.
    np.testing.assert_allclose(values[1:5], [0.20, 0.60, 0.28, 0.56])
    np.testing.assert_allclose(values[5:], [0.1, 0.4, 2, 0.3, 0.8, 2, 0, 0, 0])


def test_a_box_is_clipped_to_the_image() -> None:
    points = np.array([[1.0, 1.0], [99.0, 49.0]])
    values = np.array(label_line(points, 100, 50, margin=0.1).split(), dtype=float)
    np.testing.assert_allclose(values[1:5], [0.5, 0.5, 1.0, 1.0])


def test_flip_index_swaps_left_and_right() -> None:
    assert flip_index(Skeleton.from_names(EARS, [])) == [0, 2, 1, 3]
    declared = Skeleton.from_names(["snout", "a", "b", "tail"], [], [("a", "b")])
    assert flip_index(declared) == [0, 2, 1, 3]
    # A side without a partner: nothing mirrors, every keypoint is its own image.
    lone = Skeleton.from_names(["snout", "left_ear", "right_ear", "tailL"], [])
    assert flip_index(lone) == [0, 1, 2, 3]


def test_mirroring_only_with_left_right_pairs() -> None:
    assert effective_fliplr(Skeleton.from_names(EARS, []), 0.5) == (
        0.5,
        "on: left_ear<->right_ear (from names)",
    )
    lone = Skeleton.from_names(["snout", "left_ear", "right_ear", "tailL"], [])
    assert effective_fliplr(lone, 0.5) == (
        0.0,
        "off: keypoint 'tailL' marks a side but has no partner",
    )
    unsided = Skeleton.from_names(["snout", "neck", "tail"], [])
    assert effective_fliplr(unsided, 0.5) == (
        0.0,
        "off: no keypoint name marks a left/right side",
    )
    never = Skeleton.from_names(EARS, [], [])
    assert effective_fliplr(never, 1.0)[0] == 0.0
    paired = Skeleton.from_names(EARS, [])
    assert effective_fliplr(paired, 0.0) == (0.0, "off: the fliplr option is 0")
    assert effective_fliplr(paired, 0.5, augment=False) == (0.0, "off: the augment option is off")


def test_augment_off_zeroes_every_augmentation() -> None:
    cfg = YoloAdapter.resolve_config({})
    assert augmentation_args(cfg, 0.5) == {"mosaic": 1.0, "fliplr": 0.5}
    off = augmentation_args({**cfg, "augment": False}, 0.0)
    assert set(off) >= {"mosaic", "fliplr", "hsv_v", "translate", "scale"}
    assert set(off.values()) == {0.0}


def test_imgsz_is_raised_where_small_close_keypoints_need_it(tmp_path: Path) -> None:
    """The longest side of either frame is 320: 160 px would show the discs about 3 px
    apart, so the shared rule raises the scale to its bound, twice the profile's."""
    mixed = mixed_size_blobs(tmp_path, (320, 240), (240, 320), n_frames=4)
    imgsz, resolution = fit_imgsz(mixed, 160, True)
    assert resolution is not None and resolution.base == 0.5 and resolution.scale == 1.0
    assert imgsz == 320 and "raised from 0.5 to 1" in resolution.note()
    # 100 px: scale 0.3125 raised to 0.625, 200 px, rounded up to the stride: 224.
    imgsz, resolution = fit_imgsz(mixed, 100, True)
    assert resolution is not None and resolution.scale == pytest.approx(0.625)
    assert imgsz == 224
    assert fit_imgsz(mixed, 160, False) == (160, None)


def test_imgsz_is_never_lowered_nor_raised_past_the_frames(tmp_path: Path) -> None:
    small = make_blob_dataset(tmp_path, n_frames=4, size=(64, 48))
    imgsz, resolution = fit_imgsz(small, 640, True)
    assert imgsz == 640 and resolution is not None and resolution.base == 1.0
    assert not resolution.raised


def test_validation_frames_are_the_val_frames_else_spread_train_frames(tmp_path: Path) -> None:
    ds = make_blob_dataset(tmp_path, n_frames=40, missing_fraction=0.0)
    train, val = ds.subset(ds.frame_ids[:32]), ds.subset(ds.frame_ids[32:])
    assert validation_frames(train, val) == (val, "val frames")
    frames, note = validation_frames(train, None)
    assert note == "16 of the train frames (no val frames given)"
    assert frames.n_frames == 16 and set(frames.frame_ids) <= set(train.frame_ids)
    assert frames.frame_ids[0] == train.frame_ids[0] and frames.frame_ids[-1] == train.frame_ids[-1]
    few = train.subset(train.frame_ids[:5])
    assert validation_frames(few, None)[1] == "5 of the train frames (no val frames given)"
    unlabelled = val.with_points(np.full_like(val.points, np.nan))
    assert validation_frames(train, unlabelled)[1] == (
        "16 of the train frames (no val frame has a label)"
    )


def test_the_dataset_holds_labelled_frames_only_and_names_both_parts(tmp_path: Path) -> None:
    ds = make_blob_dataset(tmp_path / "blobs", n_frames=6, missing_fraction=0.0)
    points = np.array(ds.points)
    points[2] = np.nan  # a frame with no labelled keypoint is left out
    ds = ds.with_points(points)
    root = tmp_path / "yolo-data"
    used = write_yolo_dataset(ds, root, "train", margin=0.1)
    assert used.tolist() == [True, True, False, True, True, True]
    labels = sorted((root / "labels" / "train").iterdir())
    assert [p.stem for p in labels] == ["000000", "000001", "000003", "000004", "000005"]
    images = sorted((root / "images" / "train").iterdir())
    assert [p.resolve() for p in images] == [
        Path(ds.image_paths[i]).resolve() for i in (0, 1, 3, 4, 5)
    ]
    data = yaml.safe_load(write_data_yaml(root, ds.skeleton).read_text())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    assert data["kpt_shape"] == [4, 3] and data["flip_idx"] == [0, 2, 1, 3]


@pytest.fixture
def no_hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """``choose_pretrained`` as when HF_HUB_OFFLINE is not set."""
    monkeypatch.setattr("adapters.pretrained.offline", lambda: False)


def test_pretrained_weights_are_used_only_when_on_disk(tmp_path: Path, no_hub_offline) -> None:
    cfg = YoloAdapter.resolve_config({})
    folder = tmp_path / "weights"
    folder.mkdir()
    assert resolve_pretrained(cfg, [folder]) == (
        None,
        "auto: weights not cached and kpbench never downloads them (random init)",
    )
    (folder / "yolo11n-pose.pt").write_bytes(b"")
    found, why = resolve_pretrained(cfg, [tmp_path / "elsewhere", folder])
    assert found == (folder / "yolo11n-pose.pt").resolve()
    assert why == f"pretrained weights {found} found in the cache"
    assert resolve_pretrained({**cfg, "pretrained": True}, [folder])[0] == found
    assert resolve_pretrained({**cfg, "pretrained": False}, [folder]) == (
        None,
        "pretrained: false (random init, nothing downloaded)",
    )
    # Another model's weights are not this model's.
    assert resolve_pretrained({**cfg, "model": "yolo11s-pose.yaml"}, [folder])[0] is None


def test_pretrained_true_without_weights_and_a_missing_path_are_errors(
    tmp_path: Path, no_hub_offline
) -> None:
    cfg = YoloAdapter.resolve_config({})
    with pytest.raises(ConfigError, match=r"pretrained: true needs yolo11n-pose\.pt"):
        resolve_pretrained({**cfg, "pretrained": True}, [tmp_path])
    missing = str(tmp_path / "nope.pt")
    with pytest.raises(ConfigError, match=r"option 'weights': .*nope\.pt is not a file"):
        resolve_pretrained({**cfg, "weights": missing}, [tmp_path])
    given = tmp_path / "mine.pt"
    given.write_bytes(b"")
    assert resolve_pretrained({**cfg, "weights": str(given)}, [])[0] == given.resolve()
    assert resolve_pretrained({**cfg, "weights": missing, "pretrained": False}, [])[0] is None


def test_offline_auto_without_weights_is_random_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adapters.pretrained.offline", lambda: True)
    cfg = YoloAdapter.resolve_config({})
    assert resolve_pretrained(cfg, []) == (
        None,
        "auto: weights not cached and HF_HUB_OFFLINE is set (random init)",
    )


def test_the_user_weights_folder_comes_from_their_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(yolo, "_USER_CONFIG_DIR", str(tmp_path / "cfg"))
    assert user_weights_dirs() == [tmp_path]
    settings = tmp_path / "cfg" / "Ultralytics" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"weights_dir": str(tmp_path / "w")}))
    assert user_weights_dirs() == [tmp_path / "w", tmp_path]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"imgsize": 320}, "unknown option 'imgsize' (did you mean 'imgsz'?)"),
        ({"batch": 8}, "(did you mean 'batch_size'?)"),
        ({"model": "yolo11n-pose.pt"}, "option 'model' must be a pose model yaml"),
        ({"weights": "w.onnx"}, "option 'weights' must be the path of a .pt file or null"),
        ({"pretrained": "yes"}, "option 'pretrained' must be one of auto, true, false"),
        ({"augment": 1}, "option 'augment' must be one of true, false"),
    ],
)
def test_bad_options_are_one_clear_error(config: dict, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        YoloAdapter.resolve_config(config)
    assert words in str(info.value) and "\n" not in str(info.value)
