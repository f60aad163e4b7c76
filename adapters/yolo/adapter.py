"""The ``yolo`` adapter: Ultralytics YOLO pose (``ultralytics``, AGPL-3.0) in its own environment.

Ultralytics is AGPL-3.0, so kpbench never vendors it and imports it only in its own
environment (``environment = "yolo"``, built by ``kpbench env create yolo``); the main
environment imports this module (nothing heavy at import time) to list adapters, and its
unit tests test the conversions below without Ultralytics.

Training follows Ultralytics' own workflow for a custom pose dataset: the frames become a
YOLO pose dataset (``images/{train,val}``, ``labels/{train,val}`` with one
``class cx cy w h x y v ...`` line per animal, a ``data.yaml`` with ``kpt_shape`` and
``flip_idx`` from the skeleton's left/right pairs), and ``YOLO(<model yaml>).train(data=...)``
trains it. The animal's box is the box of its labelled keypoints plus a margin (clipped to
the image); unlabelled keypoints are written as ``0 0 0`` (Ultralytics' "not labelled").
Frames without any labelled keypoint are left out (in a single-animal dataset they would
teach "no animal" on frames that show one) and counted in the notes.

Validation frames are named in ``data.yaml``, so Ultralytics never splits the data itself:
the run's ``val`` frames, validated after every epoch (``best.pt``, Ultralytics' pick on
them, is the model); without them, up to ``MAX_TRAIN_AS_VAL`` training frames spread over the
training set (:func:`adapters.base.spread_subset`, as SLEAP does), with per-epoch validation
off (``val=False``: Ultralytics then validates once, after the last epoch, and the model is
the last epoch's). The notes say which (``validation``, ``per_epoch_validation``).

Mirroring (``fliplr``) needs left/right pairs: where the harness knows none
(``Skeleton.flip_pairs()`` empty), ``fliplr`` is 0 whatever the option says
(:func:`effective_fliplr`; the ``mirroring`` note). ``augment: false`` turns every
augmentation off. Input size: Ultralytics letterboxes the longest side to ``imgsz``; the
shared resolution rule (:mod:`benchmark.resolution`) raises it where small or close
keypoints need it (:func:`fit_imgsz`, unless ``resolution_from_data`` is false).

Weights: the model is built from its yaml. ``pretrained: auto`` (or ``true``) starts from the
yaml's own ``.pt`` (``yolo11n-pose.yaml`` -> ``yolo11n-pose.pt``) when it is already on disk:
the ``weights`` option's path, else the user's Ultralytics weights folder (their
``settings.json``) or the working folder; otherwise random initialisation
(:func:`resolve_pretrained`, :func:`adapters.pretrained.choose_pretrained`). Nothing is ever
downloaded.

Offline and in the job folder: ``YOLO_OFFLINE=1``, ``YOLO_AUTOINSTALL=false``,
``YOLO_CONFIG_DIR`` inside the work dir (Ultralytics keeps its ``Ultralytics/settings.json``
there), ``plots=False``, ``amp=False`` (its AMP check downloads a model), and a local font
under the name its dataset check looks for (it would download Arial otherwise). Ultralytics
sets torch's CPU threads to ``cpu_count() - 1`` when it selects the device; the adapter sets
them back to the harness's count at the start of training and of prediction.

Training runs under the harness's clock: ``training_starts`` at Ultralytics'
``on_train_start``; each ``on_train_epoch_end`` reports the epoch, sets the trainer's own
``stop`` flag when the budget is spent (Ultralytics then validates, saves and ends), and the
epoch's saved weights (``last.pt``) are copied into the snapshots the clock asks for (at
``on_fit_epoch_end``, which Ultralytics fires once more for its final validation: nothing is
pending then). Ultralytics' own clock does not compete with the harness's: ``time`` is not
passed by default (it would stop training mid-epoch at its limit), so ``epochs`` plans the
schedule and the budget ends it at an epoch boundary, as for every other framework.
``fit_schedule_to_budget: true`` passes the budget as ``time`` instead, which re-plans the
number of epochs (the learning-rate decay and the last epochs without mosaic) after each
epoch to end within it, how its users train for a fixed compute; training then ends on
Ultralytics' clock, possibly within an epoch. ``patience`` (early stopping on validation
fitness) is set past the schedule (1000 epochs).

Prediction is ``YOLO(weights).predict`` on the frames with a low instance cutoff (``conf``);
the highest-scoring instance is the animal, each keypoint's confidence its score, NaN for a
frame with no instance; coordinates are Ultralytics' own, in the frame's pixels.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.base import Adapter, ConfigError, spread_subset, versions, write_notes
from adapters.options import FRACTION, POSITIVE, POSITIVE_INT, Number, OneOf, Rule
from adapters.pretrained import choose_pretrained
from benchmark.dataset import Dataset, Skeleton
from benchmark.paths import atomic_write_text
from benchmark.resolution import Resolution, input_resolution

META_FILE = "kpbench_yolo.json"
WEIGHTS_FILE = "model.pt"
CLASS_NAME = "animal"
#: A box is at least this many pixels wider than its keypoints on each side.
MIN_BOX_PAD_PX = 4.0
#: Without val frames, Ultralytics validates (once, after the last epoch) on this many train
#: frames spread over the train set, as SLEAP does (adapters/sleap/adapter.py).
MAX_TRAIN_AS_VAL = 16
#: Ultralytics' network input is a multiple of its largest stride.
STRIDE = 32
#: The Ultralytics settings folder inside ``YOLO_CONFIG_DIR`` (its ``get_user_config_dir``).
SETTINGS_SUBDIR = "Ultralytics"
#: The user's ``YOLO_CONFIG_DIR`` when this module was imported, before :func:`_setup` moved
#: it into a job folder: where their ``settings.json`` (and its weights folder) is.
_USER_CONFIG_DIR = os.environ.get("YOLO_CONFIG_DIR")
#: The augmentation arguments ``augment: false`` sets to 0 (Ultralytics' pose defaults for
#: the rest are already 0: degrees, shear, perspective, flipud, mixup, cutmix).
AUGMENTATIONS = ("hsv_h", "hsv_s", "hsv_v", "translate", "scale", "mosaic", "fliplr")


@dataclass(frozen=True)
class FileName:
    """Text ending in one of ``suffixes`` (case-insensitive); ``nullable``: null too."""

    suffixes: tuple[str, ...]
    words: str
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        """See :class:`adapters.options.Rule`."""
        if value is None and self.nullable:
            return None
        if isinstance(value, str) and value.lower().endswith(self.suffixes):
            return None
        return f"must be {self.words}" + (" or null" if self.nullable else "")


class YoloAdapter(Adapter):
    """``ultralytics.YOLO(<pose model yaml>).train`` on the frames, ``.predict`` on the test frames.

    Options (Ultralytics' own names and defaults unless said):
        model: a pose model yaml Ultralytics ships (the scale letter picks the size).
        epochs, imgsz, batch_size (Ultralytics' ``batch``), optimizer, lr0 (used unless
            optimizer is ``auto``, which picks its own), warmup_epochs, nbs (gradients
            accumulate over ``round(nbs / batch_size)`` batches), close_mosaic, patience.
        augment: Ultralytics' augmentation on (its defaults, with ``mosaic`` and ``fliplr``
            below) or off (every augmentation 0).
        mosaic, fliplr: probabilities; ``fliplr`` is 0 where no left/right pairs are known.
        fit_schedule_to_budget: with a run budget, pass it as Ultralytics' ``time`` (off:
            ``epochs`` plans the schedule and the harness's budget ends it).
        box_margin: the animal's box is its labelled keypoints' box plus this fraction of
            its longer side (at least ``MIN_BOX_PAD_PX``) on each side.
        conf: instance cutoff of prediction (low: every frame gets its best instance).
        threshold: the predictor's ``score_cutoff``, Ultralytics' keypoint visibility cutoff
            (0.5: below it its plots do not draw a keypoint).
        pretrained: ``auto``, ``true`` or ``false`` (module docstring); weights: the ``.pt``
            to start from (null: the model yaml's own, where found).
        resolution_from_data: raise ``imgsz`` where the labels need it (module docstring).
    """

    name: ClassVar[str] = "yolo"
    framework: ClassVar[str | None] = "ultralytics"
    environment: ClassVar[str | None] = "yolo"
    default_config: ClassVar[dict[str, Any]] = {
        "model": "yolo11n-pose.yaml",
        "epochs": 100,  # Ultralytics' defaults from here on
        "imgsz": 640,
        "batch_size": 16,
        "optimizer": "auto",
        "lr0": 0.01,
        "warmup_epochs": 3.0,
        "nbs": 64,
        "augment": True,
        "mosaic": 1.0,
        "close_mosaic": 10,
        "fliplr": 0.5,  # uses flip_idx: left/right keypoints swap
        "patience": 1000,  # past the schedule: no early stop competes with the budget
        "fit_schedule_to_budget": False,
        "box_margin": 0.1,
        "conf": 0.001,  # Ultralytics' validation default
        "threshold": 0.5,
        "pretrained": "auto",
        "weights": None,
        "resolution_from_data": True,
    }
    option_rules: ClassVar[dict[str, Rule]] = {
        "model": FileName(
            (".yaml", ".yml"),
            "a pose model yaml such as yolo11n-pose.yaml (a .pt file goes in 'weights')",
        ),
        "epochs": POSITIVE_INT,
        "imgsz": Number(integer=True, min=STRIDE),
        "batch_size": POSITIVE_INT,
        "optimizer": OneOf(("auto", "SGD", "Adam", "AdamW", "NAdam", "RAdam", "RMSProp")),
        "lr0": POSITIVE,
        "warmup_epochs": Number(min=0.0),
        "nbs": POSITIVE_INT,
        "mosaic": FRACTION,
        "close_mosaic": Number(integer=True, min=0),
        "fliplr": FRACTION,
        "patience": POSITIVE_INT,
        "box_margin": Number(min=0.0),
        "conf": FRACTION,
        "threshold": FRACTION,
        "pretrained": OneOf(("auto", True, False)),
        "weights": FileName((".pt",), "the path of a .pt file", nullable=True),
    }

    @classmethod
    def environment_info(cls) -> dict[str, Any]:
        """Ultralytics, torch, OpenCV and numpy versions of this worker."""
        info: dict[str, Any] = versions(
            "ultralytics", "torch", "torchvision", "numpy", "opencv-python-headless"
        )
        info["backend"] = f"torch {info['torch']}" if info["torch"] else None
        return info

    # ----- training -----
    def train(
        self,
        train: Dataset,
        val: Dataset | None,
        workdir: Path,
        config: Mapping[str, Any],
        seed: int,
    ) -> Path:
        """Write the YOLO pose dataset, train, and keep the final weights."""
        cfg = dict(config)
        workdir = Path(workdir).resolve()
        weights, pretrained_reason = resolve_pretrained(cfg, user_weights_dirs())
        _setup(workdir)
        from ultralytics import YOLO

        data_dir = workdir / "yolo-data"
        margin = float(cfg["box_margin"])
        used = write_yolo_dataset(train, data_dir, "train", margin)
        if not used.any():
            raise ValueError("yolo: no training frame has a labelled keypoint")
        train_used = train.subset([f for f, u in zip(train.frame_ids, used, strict=True) if u])
        val_frames, validation = validation_frames(train_used, val)
        n_val = int(write_yolo_dataset(val_frames, data_dir, "val", margin).sum())
        per_epoch = validation == "val frames"
        data_yaml = write_data_yaml(data_dir, train.skeleton)
        imgsz, resolution = fit_imgsz(train_used, int(cfg["imgsz"]), cfg["resolution_from_data"])
        fliplr, mirroring = effective_fliplr(train.skeleton, float(cfg["fliplr"]), cfg["augment"])
        cfg["imgsz"] = imgsz  # what prediction uses too

        model = YOLO(str(cfg["model"]), task="pose")
        snapshot: list[Path | None] = [None]
        stopped = [False]
        meta = {"config": cfg, "keypoints": list(train.keypoints)}

        def on_train_start(trainer: Any) -> None:
            _set_threads()
            self.training_starts()

        def on_train_epoch_end(trainer: Any) -> None:
            losses = trainer.label_loss_items(trainer.tloss) if trainer.tloss is not None else {}
            loss = float(sum(losses.values())) if losses else None
            answer = self.end_epoch(trainer.epoch + 1, int(trainer.epochs), loss=loss)
            snapshot[0] = answer.snapshot
            if answer.stop:  # Ultralytics validates, saves last.pt and ends after this epoch
                trainer.stop = stopped[0] = True

        def on_fit_epoch_end(trainer: Any) -> None:
            # After the epoch's last.pt is saved; fired again for the final validation, when
            # no snapshot is pending.
            if snapshot[0] is not None and Path(trainer.last).is_file():
                shutil.copy2(trainer.last, snapshot[0] / WEIGHTS_FILE)
                atomic_write_text(snapshot[0] / META_FILE, json.dumps(meta, indent=2))
                snapshot[0] = None

        model.add_callback("on_train_start", on_train_start)
        model.add_callback("on_train_epoch_end", on_train_epoch_end)
        model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
        budget = self.clock.budget_s
        time_h = budget / 3600 if budget and cfg["fit_schedule_to_budget"] else None
        n_used = int(used.sum())
        model.train(
            data=str(data_yaml),
            epochs=int(cfg["epochs"]),
            time=time_h,
            imgsz=imgsz,
            batch=max(2, min(int(cfg["batch_size"]), n_used)),
            optimizer=str(cfg["optimizer"]),
            lr0=float(cfg["lr0"]),
            warmup_epochs=float(cfg["warmup_epochs"]),
            nbs=int(cfg["nbs"]),
            close_mosaic=int(cfg["close_mosaic"]),
            patience=int(cfg["patience"]),
            **augmentation_args(cfg, fliplr),
            seed=seed,
            deterministic=True,
            pretrained=str(weights) if weights is not None else False,
            amp=False,
            plots=False,
            val=per_epoch,
            workers=0,
            device=_device(),
            project=str(workdir / "yolo-runs"),
            name="train",
            exist_ok=True,
            verbose=False,
        )
        trainer = model.trainer
        model_dir = workdir / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        # best.pt: Ultralytics' pick on the validation frames (without val frames: the last
        # epoch, the only one validated); last.pt when a run ended before any validation.
        chosen = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
        shutil.copy2(chosen, model_dir / WEIGHTS_FILE)
        atomic_write_text(model_dir / META_FILE, json.dumps(meta, indent=2))
        notes: dict[str, Any] = {
            "model": str(cfg["model"]),
            "pretrained": weights is not None,
            "pretrained_reason": pretrained_reason,
            "validation": validation,
            "per_epoch_validation": (
                "on: the model is best.pt, Ultralytics' pick on the val frames"
                if per_epoch
                else "off (no val frames given): Ultralytics validates once, after the "
                "last epoch; the model is the last epoch's"
            ),
            "mirroring": mirroring,
            "imgsz": imgsz,
            "frames_used": n_used,
            "frames_dropped_unlabelled": int((~used).sum()),
            "missing_labels_in_frames_used": int((~train.labeled[used]).sum()),
            "n_val_frames": n_val,
            "epochs_planned_by_ultralytics": int(trainer.epochs),
            "stopped_by_budget": stopped[0],
            "weights": chosen.name,
            "adapter_config": cfg,
        }
        if weights is not None:
            notes["pretrained_weights"] = str(weights)
        if resolution is not None:
            notes["resolution"] = resolution.note()
        write_notes(model_dir, notes)
        return model_dir

    # ----- prediction -----
    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> YoloPredictor:
        """Load the final weights (or a snapshot's) with ``ultralytics.YOLO``."""
        _setup(workdir)
        from ultralytics import YOLO

        folder = Path(snapshot if snapshot is not None else model_dir)
        meta = json.loads((folder / META_FILE).read_text())
        model = YOLO(str(folder / WEIGHTS_FILE), task="pose")
        model.add_callback("on_predict_start", lambda predictor: _set_threads())
        return YoloPredictor(model, meta)

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """Parameter count of the saved model and its size."""
        info = super().model_info(model_dir)
        try:
            import torch

            path = Path(model_dir) / WEIGHTS_FILE
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
            net = ckpt.get("ema") or ckpt["model"]
            info["n_params"] = int(sum(p.numel() for p in net.parameters()))
        except (ImportError, OSError, KeyError, AttributeError):
            pass
        return info


class YoloPredictor:
    """A loaded YOLO pose model: frames to ``(n, k, 3)`` x, y, keypoint confidence of the
    frame's highest-scoring instance, in the frames' pixels (NaN where none was found).

    Attributes:
        score_cutoff: The ``threshold`` option, Ultralytics' keypoint visibility cutoff.
    """

    def __init__(self, model: Any, meta: Mapping[str, Any]) -> None:
        self.model = model
        self.config = dict(meta["config"])
        self.n_keypoints = len(meta["keypoints"])
        self.score_cutoff = float(self.config["threshold"])

    def __call__(self, frames: Dataset) -> np.ndarray:
        """Predict the frames' image files."""
        from benchmark.images import read_image

        return self.predict_images([read_image(p) for p in frames.image_paths])

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Predict ``(H, W, 3)`` uint8 RGB frames (any sizes)."""
        out = np.full((len(images), self.n_keypoints, 3), np.nan)
        for start in range(0, len(images), 16):
            # Ultralytics takes in-memory frames as OpenCV does: BGR.
            batch = [np.ascontiguousarray(im[..., ::-1]) for im in images[start : start + 16]]
            results = self.model.predict(
                batch,
                imgsz=int(self.config["imgsz"]),
                conf=float(self.config["conf"]),
                device=_device(),
                verbose=False,
            )
            for i, result in enumerate(results):
                if result.keypoints is None or len(result.boxes) == 0:
                    continue
                best = int(result.boxes.conf.argmax())
                out[start + i] = result.keypoints.data[best].cpu().numpy().astype(np.float64)
        return out


# ----- decisions and data conversion (numpy and PIL only) -----
def effective_fliplr(skeleton: Skeleton, fliplr: float, augment: bool = True) -> tuple[float, str]:
    """The ``fliplr`` to train with and the notes' ``mirroring`` line.

    Ultralytics mirrors a frame with probability ``fliplr`` and swaps keypoints by
    ``flip_idx``; without left/right pairs it would mirror without swapping, so then 0.
    """
    if not augment:
        return 0.0, "off: the augment option is off"
    if fliplr <= 0:
        return 0.0, "off: the fliplr option is 0"
    mirroring = skeleton.mirroring()
    return (fliplr if mirroring.on else 0.0), mirroring.note(skeleton.keypoints)


def augmentation_args(config: Mapping[str, Any], fliplr: float) -> dict[str, float]:
    """Ultralytics' augmentation arguments: ``mosaic`` and ``fliplr`` (already decided by
    :func:`effective_fliplr`), or every augmentation 0 when ``augment`` is off."""
    if not config["augment"]:
        return dict.fromkeys(AUGMENTATIONS, 0.0)
    return {"mosaic": float(config["mosaic"]), "fliplr": fliplr}


def fit_imgsz(train: Dataset, imgsz: int, from_data: bool) -> tuple[int, Resolution | None]:
    """The ``imgsz`` to train and predict with, and the resolution rule's answer.

    Ultralytics letterboxes a frame's longest side to ``imgsz``: the profile's scale is
    ``imgsz`` over the longest frame side (at most 1). Where :mod:`benchmark.resolution`
    raises it, ``imgsz`` becomes that scale times the longest side, rounded up to a multiple
    of the stride. ``from_data`` false: ``imgsz`` as given, no :class:`Resolution`.
    """
    if not from_data:
        return imgsz, None
    longest = max(max(size) for size in train.image_sizes())
    resolution = input_resolution(train, min(1.0, imgsz / longest))
    if resolution.raised:
        needed = math.ceil(resolution.scale * longest)
        imgsz = max(imgsz, math.ceil(needed / STRIDE) * STRIDE)
    return imgsz, resolution


def validation_frames(train: Dataset, val: Dataset | None) -> tuple[Dataset, str]:
    """The frames Ultralytics validates on and the notes' ``validation`` line.

    Args:
        train: The training frames written (each with a labelled keypoint).
        val: The run's val frames (None: the run gives none).
    """
    if val is not None and val.labeled.any():
        return val, "val frames"
    subset = spread_subset(train, MAX_TRAIN_AS_VAL)
    why = "no val frames given" if val is None else "no val frame has a label"
    return subset, f"{subset.n_frames} of the train frames ({why})"


def pretrained_file(model: str) -> str:
    """The weights file of a model yaml: ``yolo11n-pose.yaml`` -> ``yolo11n-pose.pt``."""
    return Path(model).with_suffix(".pt").name


def find_weights(model: str, given: str | None, folders: Sequence[Path]) -> Path | None:
    """The ``.pt`` to start from: ``given`` when it is a file, else the model yaml's own
    weights file in the first of ``folders`` that has it (None: not found)."""
    if given is not None:
        path = Path(given).expanduser()
        return path.resolve() if path.is_file() else None
    name = pretrained_file(model)
    for folder in folders:
        if (Path(folder) / name).is_file():
            return (Path(folder) / name).resolve()
    return None


def resolve_pretrained(
    config: Mapping[str, Any], folders: Sequence[Path]
) -> tuple[Path | None, str]:
    """The weights to start from (None: random init) and why (for the notes).

    :func:`adapters.pretrained.choose_pretrained`'s rule, with nothing ever downloaded.

    Raises:
        ConfigError: ``weights`` names no file, or ``pretrained: true`` finds no weights.
    """
    setting, given = config["pretrained"], config["weights"]
    if setting is not False and given is not None and not Path(given).expanduser().is_file():
        raise ConfigError(f"adapter 'yolo': option 'weights': {given} is not a file")
    found = None if setting is False else find_weights(str(config["model"]), given, folders)
    if setting is True and found is None:
        shown = ", ".join(str(f) for f in folders) or "no folder"
        raise ConfigError(
            f"adapter 'yolo': pretrained: true needs {pretrained_file(str(config['model']))}, "
            f"which is in none of {shown} and is never downloaded (give its path as "
            "'weights', or use pretrained: auto or false)"
        )
    what = f"pretrained weights {found}" if found else "Ultralytics' pretrained weights"
    use, why = choose_pretrained(
        "yolo",
        setting,
        what,
        cached=lambda: found is not None,
        unreachable=lambda: "kpbench never downloads them",
    )
    return (found if use else None), why


def user_weights_dirs() -> list[Path]:
    """Where a user's Ultralytics weights are: the ``weights_dir`` of their Ultralytics
    settings (``$YOLO_CONFIG_DIR`` as it was, else ``~/.config``, ``/Ultralytics/settings.json``;
    relative to the working folder when relative), then the working folder."""
    base = _USER_CONFIG_DIR or os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    folders = []
    try:
        settings = json.loads((Path(base) / SETTINGS_SUBDIR / "settings.json").read_text())
        folders.append(Path(settings["weights_dir"]).expanduser())
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [*folders, Path.cwd()]


def write_yolo_dataset(frames: Dataset, root: Path, part: str, margin: float) -> np.ndarray:
    """Link the frames into ``root/images/<part>`` and write their labels; returns which
    frames were written (those with at least one labelled keypoint)."""
    from benchmark.images import image_size

    images, labels = root / "images" / part, root / "labels" / part
    for folder in (images, labels):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    used = frames.labeled.any(axis=1)
    for i, (path, points) in enumerate(zip(frames.image_paths, frames.points, strict=True)):
        if not used[i]:
            continue
        stem = f"{i:06d}"
        (images / f"{stem}{Path(path).suffix.lower()}").symlink_to(Path(path).resolve())
        width, height = image_size(path)
        line = label_line(points, width, height, margin)
        atomic_write_text(labels / f"{stem}.txt", line + "\n")
    return used


def label_line(points: np.ndarray, width: int, height: int, margin: float) -> str:
    """One animal's YOLO pose label: class 0, its box, then ``x y v`` per keypoint,
    normalised by the image size (``0 0 0`` for an unlabelled keypoint)."""
    labelled = ~np.isnan(points).any(axis=1)
    xy = points[labelled]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = max(margin * float((hi - lo).max()), MIN_BOX_PAD_PX)
    x0, y0 = max(lo[0] - pad, 0.0), max(lo[1] - pad, 0.0)
    x1, y1 = min(hi[0] + pad, width), min(hi[1] + pad, height)
    values = [(x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height]
    for (x, y), ok in zip(points, labelled, strict=True):
        # Ultralytics' pixel centres sit at integer coordinates, like the harness's.
        values += [x / width, y / height, 2.0] if ok else [0.0, 0.0, 0.0]
    return "0 " + " ".join(f"{v:.6f}" for v in values)


def flip_index(skeleton: Skeleton) -> list[int]:
    """Ultralytics' ``flip_idx``: each keypoint's mirror image (itself when unpaired)."""
    index = list(range(len(skeleton.keypoints)))
    for i, j in skeleton.flip_pairs():
        index[i], index[j] = j, i
    return index


def write_data_yaml(root: Path, skeleton: Skeleton) -> Path:
    """Ultralytics' dataset file: the train and val folders :func:`write_yolo_dataset`
    wrote (both named, so Ultralytics splits nothing), the keypoints and ``flip_idx``."""
    import yaml

    data = {
        "path": str(root.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": {0: CLASS_NAME},
        "kpt_shape": [len(skeleton.keypoints), 3],
        "flip_idx": flip_index(skeleton),
        "kpt_names": {0: list(skeleton.keypoints)},
    }
    path = root / "data.yaml"
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
    return path


def _setup(workdir: Path) -> None:
    """Offline, settings and font in the work dir; call before importing ultralytics (it
    reads these variables at import)."""
    config_dir = Path(workdir) / "ultralytics-config"
    settings_dir = config_dir / SETTINGS_SUBDIR  # where Ultralytics keeps settings, fonts
    settings_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"  # never pip-install a missing requirement
    os.environ.setdefault("YOLO_VERBOSE", "False")  # no progress bars in the worker's log
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    font = settings_dir / "Arial.ttf"
    if not font.exists():
        # Its dataset check wants Arial.ttf for plot labels and downloads it when missing;
        # matplotlib's DejaVu Sans stands in (plots are off: nothing is drawn with it).
        import matplotlib

        dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        shutil.copyfile(dejavu, font)


def _set_threads() -> None:
    """torch's CPU threads back to the harness's count (Ultralytics sets ``cpu_count() - 1``)."""
    threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    if threads:
        import torch

        torch.set_num_threads(threads)


def _device() -> str:
    import torch

    return "0" if torch.cuda.is_available() else "cpu"
