"""Training and prediction machinery shared by our PyTorch networks.

Coordinates: a frame is resized (aspect ratio kept, per frame, so frames of different sizes
work) and centred on a black canvas of the network input size ("letterboxing"). Pixel centres
are at integer coordinates, as in DeepLabCut labels, so a point maps to the network input as
``(p + 0.5) * s - 0.5 + offset`` and back with the inverse. Augmentation is one random affine
transform per image (mirror, rotation, zoom, shift) applied to the letterboxed image with
``grid_sample`` and to its points with the same matrix, plus brightness/contrast jitter.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from adapters.base import write_notes
from adapters.torch_common import MODEL_FILE, WEIGHTS_FILE
from benchmark.dataset import Dataset, Skeleton
from benchmark.errors import InputError
from benchmark.images import read_image
from benchmark.paths import atomic_path, atomic_write_text
from benchmark.resolution import input_resolution

if TYPE_CHECKING:
    from adapters.torch_common import TorchNetAdapter

# Input normalisation of 0..1 pixel values (roughly centres natural images).
PIXEL_MEAN, PIXEL_STD = 0.45, 0.25
SIZE_MULTIPLE = 32


# ----- seeding -----
@contextlib.contextmanager
def seeded(seed: int) -> Iterator[np.random.Generator]:
    """Seed torch, make it use deterministic kernels, and yield a numpy generator.

    The global deterministic-algorithms flag is restored on exit.
    """
    torch.manual_seed(seed)
    was_on = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield np.random.default_rng(seed)
    finally:
        torch.use_deterministic_algorithms(was_on, warn_only=was_warn)


# ----- letterboxing -----
@dataclass(frozen=True)
class Placement:
    """Where one frame sits in the network input: per-axis scale and offset."""

    sx: float
    sy: float
    ox: int
    oy: int

    def to_net(self, points: np.ndarray) -> np.ndarray:
        """Original-pixel ``(..., 2)`` points to network-input pixels."""
        s, o = np.array([self.sx, self.sy]), np.array([self.ox, self.oy])
        return (points + 0.5) * s - 0.5 + o

    def to_orig(self, points: np.ndarray) -> np.ndarray:
        """Network-input ``(..., 2)`` points to original pixels."""
        s, o = np.array([self.sx, self.sy]), np.array([self.ox, self.oy])
        return (points - o + 0.5) / s - 0.5


def input_size(
    frame_sizes: Sequence[tuple[int, int]], config: Mapping[str, Any]
) -> tuple[int, int]:
    """Network input ``(width, height)``: ``config["input_size"]`` or the scaled largest frame."""
    if config.get("input_size"):
        w, h = (int(v) for v in config["input_size"])
        return w, h
    scale = float(config["scale"])
    w = max(s[0] for s in frame_sizes) * scale
    h = max(s[1] for s in frame_sizes) * scale
    return (
        max(SIZE_MULTIPLE, math.ceil(w / SIZE_MULTIPLE) * SIZE_MULTIPLE),
        max(SIZE_MULTIPLE, math.ceil(h / SIZE_MULTIPLE) * SIZE_MULTIPLE),
    )


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An ``(H, W)``, ``(H, W, 1|3|4)`` image as ``(H, W, 3)`` uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[..., :3]


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Placement]:
    """Resize ``image`` to fit ``size`` (w, h) with its aspect ratio and centre it on black."""
    image = as_rgb(image)
    h, w = image.shape[:2]
    out_w, out_h = size
    s = min(out_w / w, out_h / h)
    new_w, new_h = max(1, min(out_w, round(w * s))), max(1, min(out_h, round(h * s)))
    if (new_w, new_h) != (w, h):
        image = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    ox, oy = (out_w - new_w) // 2, (out_h - new_h) // 2
    canvas = np.zeros((out_h, out_w, 3), dtype=np.uint8)
    canvas[oy : oy + new_h, ox : ox + new_w] = image
    return canvas, Placement(new_w / w, new_h / h, ox, oy)


def prepare(
    images: Sequence[np.ndarray], size: tuple[int, int]
) -> tuple[torch.Tensor, list[Placement]]:
    """Letterbox images into a ``(N, 3, H, W)`` uint8 tensor, with each one's placement."""
    boxed = [letterbox(im, size) for im in images]
    stack = np.stack([b[0] for b in boxed]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stack)), [b[1] for b in boxed]


def load_frames(data: Dataset, size: tuple[int, int]) -> tuple[torch.Tensor, np.ndarray]:
    """All frames of ``data`` letterboxed, and their labels in network-input pixels."""
    tensor, places = prepare([read_image(p) for p in data.image_paths], size)
    points = np.stack([pl.to_net(pts) for pl, pts in zip(places, data.points, strict=True)])
    return tensor, points


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 or 0..1 float images to the network's input scale."""
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    return (images - PIXEL_MEAN) / PIXEL_STD


# ----- augmentation -----
def flip_permutation(skeleton: Skeleton) -> np.ndarray | None:
    """Keypoint order after a mirror: left/right pairs swapped, the rest in place; None
    when nothing may mirror (:meth:`Skeleton.mirroring` says why)."""
    pairs = skeleton.flip_pairs()
    if not pairs:
        return None
    perm = np.arange(len(skeleton.keypoints))
    for i, j in pairs:  # each keypoint in one pair at most
        perm[i], perm[j] = j, i
    return perm


def mirroring_note(skeleton: Skeleton, config: Mapping[str, Any]) -> str:
    """The notes' ``mirroring`` line: whether training mirrors frames, and with which pairs."""
    if not (config["augment"] and config["flip"]):
        return "off: the flip option is off"
    return skeleton.mirroring().note(skeleton.keypoints)


def augment(
    images: torch.Tensor,
    points: np.ndarray,
    config: Mapping[str, Any],
    rng: np.random.Generator,
    flip_perm: np.ndarray | None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Randomly transform a batch: returns normalised images and their moved points.

    Args:
        images: ``(B, 3, H, W)`` uint8 letterboxed frames.
        points: ``(B, K, 2)`` network-input pixels, NaN where unlabelled.
        config: The augmentation options (``flip``, ``rotation``, ``zoom``, ``translate``,
            ``brightness``, ``contrast``).
        rng: Source of all randomness (so a seed fixes the augmentation).
        flip_perm: Keypoint permutation applied to mirrored images; None: never mirror
            (whatever ``flip`` says), as no left/right pairs are known.
    """
    b, _, h, w = images.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    mats = np.empty((b, 3, 3))
    points = points.copy()
    for i in range(b):
        mirror = flip_perm is not None and bool(config["flip"]) and rng.random() < 0.5
        angle = math.radians(rng.uniform(-1, 1) * float(config["rotation"]))
        zoom = 1.0 + rng.uniform(-1, 1) * float(config["zoom"])
        tx, ty = rng.uniform(-1, 1, 2) * float(config["translate"]) * np.array([w, h])
        cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
        fx = -1.0 if mirror else 1.0
        # out = R * Z * M * (in - c) + c + t
        lin = np.array([[cos * fx, -sin], [sin * fx, cos]])
        shift = np.array([cx + tx, cy + ty]) - lin @ np.array([cx, cy])
        mats[i] = [[*lin[0], shift[0]], [*lin[1], shift[1]], [0, 0, 1]]
        points[i] = points[i] @ lin.T + shift
        if mirror:
            points[i] = points[i][flip_perm]
    # grid_sample wants, per output pixel, the input location in [-1, 1] coordinates.
    to_unit = np.array([[2 / (w - 1), 0, -1], [0, 2 / (h - 1), -1], [0, 0, 1]])
    theta = to_unit @ np.linalg.inv(mats) @ np.linalg.inv(to_unit)
    theta_t = torch.as_tensor(theta[:, :2], dtype=torch.float32)
    grid = F.affine_grid(theta_t, [b, 3, h, w], align_corners=True)
    out = F.grid_sample(images.float() / 255.0, grid, align_corners=True, padding_mode="zeros")
    contrast = 1.0 + rng.uniform(-1, 1, b) * float(config["contrast"])
    bright = rng.uniform(-1, 1, b) * float(config["brightness"])
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    c = torch.as_tensor(contrast, dtype=torch.float32).view(b, 1, 1, 1)
    d = torch.as_tensor(bright, dtype=torch.float32).view(b, 1, 1, 1)
    out = ((out - mean) * c + mean + d).clamp(0.0, 1.0)
    return normalise(out), points


# ----- training -----
def model_spec(module: str) -> ModuleType:
    """Import a network's ``model`` module (``build``, ``loss``, ``decode``)."""
    return importlib.import_module(module)


def count_params(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def planned_epochs(epochs: int, done: int, elapsed_s: float, budget_s: float | None) -> int:
    """The epochs the schedule spans after ``done`` epochs took ``elapsed_s`` seconds.

    Without a budget, ``epochs``. With one (``fit_schedule_to_budget``), the epochs that fit
    it at the mean epoch time so far, so that the learning rate has decayed when the budget
    ends, as Ultralytics' ``time`` re-plans its schedule; never fewer than ``done``.
    """
    if budget_s is None or done < 1 or elapsed_s <= 0:
        return epochs
    return max(done, round(budget_s * done / elapsed_s))


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 1% of the base learning rate."""
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))


def _batches(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of near-equal size (shuffled when ``rng`` is given); none of size 1."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    n_batches = max(1, n // max(1, batch_size)) if rng is not None else math.ceil(n / batch_size)
    return [b for b in np.array_split(order, n_batches) if len(b)]


def _eval_loss(
    model: torch.nn.Module,
    spec: ModuleType,
    images: torch.Tensor,
    points: np.ndarray,
    config: Mapping[str, Any],
    size: tuple[int, int],
) -> float:
    """Mean loss over un-augmented frames (for best-epoch selection)."""
    model.eval()
    total, n = 0.0, 0
    with torch.inference_mode():
        for idx in _batches(len(images), int(config["predict_batch_size"]), None):
            out = model(normalise(images[idx]))
            pts = torch.as_tensor(points[idx], dtype=torch.float32)
            total += float(spec.loss(out, pts, config, size)) * len(idx)
            n += len(idx)
    model.train()
    return total / max(1, n)


def train(
    adapter: TorchNetAdapter,
    train_set: Dataset,
    val_set: Dataset | None,
    workdir: Path,
    config: dict[str, Any],
    seed: int,
) -> Path:
    """Train ``adapter``'s network and save it under ``workdir/model`` (see the adapter)."""
    spec = model_spec(adapter.model_module)
    if train_set.n_labeled == 0:
        raise InputError(train_set.source or train_set.name, "no labelled keypoints to train on")
    notes: dict[str, Any] = {}
    if config["resolution_from_data"] and not config.get("input_size"):
        resolution = input_resolution(train_set, float(config["scale"]))
        config = {**config, "scale": resolution.scale}
        notes["resolution"] = resolution.note()
    size = input_size(train_set.image_sizes(), config)
    epochs, batch_size = int(config["epochs"]), int(config["batch_size"])
    use_val = val_set is not None and val_set.n_labeled > 0
    with seeded(seed) as rng:
        model = spec.build(config, train_set.n_keypoints)  # first: bad options fail fast
        images, points = load_frames(train_set, size)
        val_images, val_points = load_frames(val_set, size) if use_val else (None, None)
        model.train()
        opt = torch.optim.AdamW(
            model.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
        )
        steps = max(1, len(images) // max(1, batch_size))  # batches per epoch
        warmup = min(100, max(1, epochs * steps) // 10)
        plan = {"epochs": epochs}  # re-planned after each epoch when fitted to the budget
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: _lr_factor(s, max(1, plan["epochs"] * steps), warmup=warmup)
        )
        budget = adapter.clock.budget_s if config["fit_schedule_to_budget"] else None
        flip_perm = flip_permutation(train_set.skeleton)
        history: list[dict[str, float]] = []
        best: tuple[float, int, dict[str, torch.Tensor]] | None = None
        adapter.training_starts()
        epoch = 0
        while epoch < plan["epochs"]:
            epoch += 1
            losses = []
            for idx in _batches(len(images), batch_size, rng):
                if config["augment"]:
                    x, pts = augment(images[idx], points[idx], config, rng, flip_perm)
                else:
                    x, pts = normalise(images[idx]), points[idx]
                loss = spec.loss(model(x), torch.as_tensor(pts, dtype=torch.float32), config, size)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            record = {"epoch": epoch, "loss": float(np.mean(losses))}
            plan["epochs"] = planned_epochs(epochs, epoch, adapter.clock.elapsed(), budget)
            if use_val and (epoch % int(config["val_every"]) == 0 or epoch == plan["epochs"]):
                record["val_loss"] = _eval_loss(model, spec, val_images, val_points, config, size)
                if best is None or record["val_loss"] < best[0]:
                    best = (record["val_loss"], epoch, copy.deepcopy(model.state_dict()))
            history.append(record)
            answer = adapter.end_epoch(
                epoch, plan["epochs"], **{k: v for k, v in record.items() if k != "epoch"}
            )
            if answer.snapshot is not None:
                with atomic_path(answer.snapshot / WEIGHTS_FILE) as tmp:
                    torch.save(model.state_dict(), tmp)
            if answer.stop:
                break
        if best is not None:
            model.load_state_dict(best[2])
    model_dir = workdir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / WEIGHTS_FILE) as tmp:
        torch.save(model.state_dict(), tmp)
    meta = {
        "adapter": adapter.name,
        "config": config,
        "keypoints": list(train_set.keypoints),
        "edges": [list(e) for e in train_set.skeleton.edges],
        "input_size": list(size),
        "n_params": count_params(model),
        "seed": seed,
        "best_epoch": best[1] if best is not None else len(history),
        "epochs_run": len(history),
        "epochs_planned": plan["epochs"],
        "history": history,
    }
    atomic_write_text(model_dir / MODEL_FILE, json.dumps(meta, indent=2))
    if budget is not None:
        notes["schedule"] = (
            f"cosine over {plan['epochs']} epochs, fitted to the {budget:g} s budget "
            f"(mean epoch {adapter.clock.elapsed() / max(1, len(history)):.2f} s)"
        )
    write_notes(model_dir, {**notes, "mirroring": mirroring_note(train_set.skeleton, config)})
    return model_dir


# ----- prediction -----
class NetPredictor:
    """A trained network: frames in, ``(n, K, 3)`` x, y, score in original pixels out."""

    def __init__(
        self,
        model: torch.nn.Module,
        spec: ModuleType,
        config: Mapping[str, Any],
        size: tuple[int, int],
        keypoints: Sequence[str],
    ) -> None:
        self.model = model.eval()
        self.spec = spec
        self.config = dict(config)
        self.size = size
        self.keypoints = tuple(keypoints)
        #: The network's own cutoff (heatmap: ``threshold``), applied by the harness.
        self.score_cutoff: float | None = (
            float(config["threshold"]) if "threshold" in config else None
        )

    def __call__(self, frames: Dataset) -> np.ndarray:
        """Predict every frame of ``frames`` (its labels are ignored)."""
        if frames.n_keypoints != len(self.keypoints):
            raise ValueError(
                f"model has {len(self.keypoints)} keypoints, frames have {frames.n_keypoints}"
            )
        step = int(self.config["predict_batch_size"])
        paths = frames.image_paths
        parts = [
            self.predict_images([read_image(p) for p in paths[i : i + step]])
            for i in range(0, len(paths), step)
        ]
        return np.concatenate(parts)

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Predict ``(H, W, 3)`` uint8 images (any sizes): ``(n, K, 3)`` in their pixels."""
        step = int(self.config["predict_batch_size"])
        out = np.empty((len(images), len(self.keypoints), 3))
        for start in range(0, len(images), step):
            tensor, places = prepare(images[start : start + step], self.size)
            with torch.inference_mode():
                raw = self.model(normalise(tensor))
            pred = np.asarray(self.spec.decode(raw, self.config, self.size), dtype=np.float64)
            for i, place in enumerate(places):
                pred[i, :, :2] = place.to_orig(pred[i, :, :2])
            out[start : start + len(places)] = pred
        return out


def load(
    model_module: str,
    model_dir: Path,
    snapshot: Path | None = None,
    upgrade: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> NetPredictor:
    """Load a model dir written by :func:`train` (with a snapshot's weights when given);
    ``upgrade`` completes the config of a model saved by an earlier version."""
    meta_path = model_dir / MODEL_FILE
    if not meta_path.is_file() or not (model_dir / WEIGHTS_FILE).is_file():
        raise InputError(model_dir, f"not a trained model (needs {MODEL_FILE} and {WEIGHTS_FILE})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if upgrade is not None:
        meta["config"] = upgrade(meta["config"])
    spec = model_spec(model_module)
    model = spec.build(meta["config"], len(meta["keypoints"]))
    weights = (Path(snapshot) if snapshot is not None else model_dir) / WEIGHTS_FILE
    if not weights.is_file():
        raise InputError(weights.parent, f"holds no {WEIGHTS_FILE}")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    size = (int(meta["input_size"][0]), int(meta["input_size"][1]))
    return NetPredictor(model, spec, meta["config"], size, meta["keypoints"])
