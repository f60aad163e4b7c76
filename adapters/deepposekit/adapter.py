"""The ``deepposekit`` adapter: DeepPoseKit 0.3.9 (TensorFlow 2.15, Keras 2) in its own environment.

DeepPoseKit needs TensorFlow with Keras 2 and numpy 1.x, which cannot share the main
environment, so this adapter sets ``environment = "deepposekit"``: the runner starts its
worker with that environment's interpreter (``kpbench env create deepposekit``). This module
imports nothing heavy at import time; the main environment imports it to list adapters.

Training follows DeepPoseKit's own workflow: the frames are written to its HDF5 data file
(``images``, ``annotations``, ``annotated``, ``skeleton``) with a skeleton CSV (``name``,
``parent``, ``swap``), read back with ``DataGenerator``, fed through ``TrainingGenerator`` to a
model class, saved with ``model.save`` and reloaded with ``deepposekit.models.load_model``.
Frames are scaled down (longest side at most ``max_size``, raised where the labels need it:
:mod:`benchmark.resolution`) and padded at the right and
bottom to a multiple of 32 pixels, which every DeepPoseKit model class accepts.

Missing labels are written as DeepPoseKit's own annotator writes a keypoint marked "not
visible": NaN coordinates in a frame marked annotated. ``DataGenerator`` moves NaN points to
-99999, where their confidence maps are all zero, so every frame with at least one label
trains. DeepPoseKit's skeleton maps (``use_graph``) still draw an edge from a labelled
keypoint towards an unlabelled one (its issues #23 and #52); the notes count such frames.

Training runs under the harness's clock: ``training_starts`` right before ``model.fit``, and a
Keras callback reports each epoch, stops at the epoch where the budget is spent and saves the
snapshots the clock asks for (``deepposekit.models.saving.save_model``, without the optimizer).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.base import Adapter, versions, write_notes
from adapters.options import FRACTION, POSITIVE, POSITIVE_INT, Number, OneOf, Rule
from benchmark.dataset import Dataset, Skeleton
from benchmark.paths import atomic_write_text
from benchmark.resolution import Resolution, input_resolution

MODELS = ("StackedDenseNet", "StackedHourglass", "LEAP", "DeepLabCut")
MODEL_FILE = "model.h5"
META_FILE = "kpbench_dpk.json"
SIZE_MULTIPLE = 32


class DeepPoseKitAdapter(Adapter):
    """DeepPoseKit's ``TrainingGenerator`` + a model class (``StackedDenseNet`` by default)."""

    name: ClassVar[str] = "deepposekit"
    framework: ClassVar[str | None] = "deepposekit"
    environment: ClassVar[str | None] = "deepposekit"
    default_config: ClassVar[dict[str, Any]] = {
        "model": "StackedDenseNet",  # or StackedHourglass, LEAP, DeepLabCut (weights=None)
        "epochs": 20,
        "batch_size": 8,
        "learning_rate": 1e-3,
        "max_size": 160,  # longest image side fed to the network (frames are scaled down)
        # Raise max_size when the labels need it (small or close keypoints;
        # benchmark.resolution: the same rule for every adapter that scales frames down).
        "resolution_from_data": True,
        "downsample_factor": 2,  # confidence maps at 1/2**k of the input; LEAP forces 0
        "sigma": 5.0,  # Gaussian radius of the confidence maps, in network-input pixels
        "use_graph": True,  # also learn the skeleton's edges (DeepPoseKit's default)
        "n_stacks": 1,  # StackedDenseNet / StackedHourglass
        "growth_rate": 16,  # StackedDenseNet
        "filters": 64,  # StackedHourglass / LEAP
        "backbone": "resnet50",  # DeepLabCut; always weights=None (no download)
        # The predictor's score_cutoff, which the harness applies in its second set of
        # metrics. DeepPoseKit has no cutoff of its own (it locates every keypoint): 0.
        "threshold": 0.0,
    }
    option_rules: ClassVar[dict[str, Rule]] = {
        "model": OneOf(MODELS),
        "epochs": POSITIVE_INT,
        "batch_size": POSITIVE_INT,
        "learning_rate": POSITIVE,
        "max_size": Number(integer=True, min=SIZE_MULTIPLE),
        "downsample_factor": Number(integer=True, min=0, max=5),
        "sigma": POSITIVE,
        "n_stacks": POSITIVE_INT,
        "growth_rate": POSITIVE_INT,
        "filters": POSITIVE_INT,
        "threshold": FRACTION,
    }

    @classmethod
    def resolve_config(cls, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with ``config``, checked; LEAP gets ``downsample_factor`` 0."""
        resolved = super().resolve_config(config)
        if resolved["model"] == "LEAP":
            # LEAP's decoder upsamples back to the input size: its maps have no downsampling.
            resolved["downsample_factor"] = 0
        return resolved

    @classmethod
    def environment_info(cls) -> dict[str, Any]:
        """TensorFlow, Keras, DeepPoseKit and numpy versions of this worker."""
        info: dict[str, Any] = versions("tensorflow", "keras", "deepposekit", "numpy", "h5py")
        info["backend"] = f"tensorflow {info['tensorflow']}" if info["tensorflow"] else None
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
        """Write DeepPoseKit's data file, train, and save the model (``val`` is not used)."""
        tf = _setup(seed)
        from deepposekit.io import DataGenerator, TrainingGenerator
        from deepposekit.models import DeepLabCut, StackedDenseNet, StackedHourglass
        from deepposekit.models.LEAP import LEAP
        from deepposekit.models.saving import save_model

        data_dir = workdir / "deepposekit"
        data_dir.mkdir(parents=True, exist_ok=True)
        layout, resolution = fit_layout(train, config)
        data_path = data_dir / "annotations.h5"
        used = write_dpk_data(train, layout, data_path, data_dir / "skeleton.csv")
        n_used = int(used.sum())
        if n_used == 0:
            raise ValueError("deepposekit: no training frame has a labelled keypoint")
        generator = DataGenerator(str(data_path), mode="annotated")
        train_generator = TrainingGenerator(
            generator,
            downsample_factor=int(config["downsample_factor"]),
            use_graph=bool(config["use_graph"]),
            augmenter=None,  # no augmentation, so no mirroring (see mirroring_note)
            sigma=float(config["sigma"]),
            validation_split=0.0,
            random_seed=seed,
        )
        name = config["model"]
        if name == "StackedDenseNet":
            model = StackedDenseNet(
                train_generator,
                n_stacks=int(config["n_stacks"]),
                growth_rate=int(config["growth_rate"]),
                pretrained=False,
            )
        elif name == "StackedHourglass":
            model = StackedHourglass(
                train_generator, n_stacks=int(config["n_stacks"]), filters=int(config["filters"])
            )
        elif name == "LEAP":
            model = LEAP(train_generator, filters=int(config["filters"]))
        else:  # weights=None: random initialisation, nothing is downloaded
            model = DeepLabCut(train_generator, weights=None, backbone=config["backbone"])

        model_dir = workdir / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": dict(config),
            "layout": layout.to_dict(),
            "keypoints": list(train.keypoints),
            "n_params": int(model.train_model.count_params()),
            "n_train_frames": n_used,
        }
        meta_text = json.dumps(meta, indent=2)
        atomic_write_text(model_dir / META_FILE, meta_text)
        epochs = int(config["epochs"])

        def on_epoch_end(epoch: int, logs: Mapping[str, Any] | None) -> None:
            answer = self.end_epoch(epoch + 1, epochs, loss=(logs or {}).get("loss"))
            if answer.snapshot is not None:
                save_model(model, str(answer.snapshot / MODEL_FILE), optimizer=False)
                atomic_write_text(answer.snapshot / META_FILE, meta_text)
            if answer.stop:  # Keras ends training after this epoch; these weights are the model
                model.train_model.stop_training = True

        # The legacy (Keras <= 2.10) optimizer: DeepPoseKit's `model.save` stores optimizer
        # weights through `optimizer.weights`, which the new Keras 2.11+ optimizers lack.
        optimizer = tf.keras.optimizers.legacy.Adam(float(config["learning_rate"]))
        model.train_model.compile(optimizer, "mse")
        self.training_starts()
        model.fit(
            # TrainingGenerator yields n // batch_size full batches: at least one.
            batch_size=max(1, min(int(config["batch_size"]), n_used)),
            epochs=epochs,
            callbacks=[tf.keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)],
            verbose=0,
        )
        model.save(str(model_dir / MODEL_FILE))
        notes = training_notes(train, used, name, layout, bool(config["use_graph"]))
        if resolution is not None:
            notes["resolution"] = resolution.note()
        write_notes(model_dir, notes)
        return model_dir

    # ----- prediction -----
    def load(
        self, model_dir: Path, workdir: Path, snapshot: Path | None = None
    ) -> DeepPoseKitPredictor:
        """Reload the saved model (or a snapshot) with ``deepposekit.models.load_model``."""
        _setup(None)
        from deepposekit.models import load_model

        folder = Path(snapshot if snapshot is not None else model_dir)
        meta = json.loads((folder / META_FILE).read_text())
        layout = Layout.from_dict(meta["layout"])
        model = load_model(str(folder / MODEL_FILE), compile=False)
        return DeepPoseKitPredictor(model, layout, float(meta["config"]["threshold"]))

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """Parameter count (recorded at training) and the size of the saved model."""
        info = super().model_info(model_dir)
        meta_path = Path(model_dir) / META_FILE
        if meta_path.is_file():
            info["n_params"] = json.loads(meta_path.read_text()).get("n_params")
        return info


class DeepPoseKitPredictor:
    """A loaded DeepPoseKit model: frames to ``(n, k, 3)`` x, y, confidence in the frames'
    pixels, every keypoint located (DeepPoseKit takes each confidence map's maximum).

    Attributes:
        score_cutoff: The ``threshold`` option, DeepPoseKit's own cutoff (the harness applies it).
    """

    def __init__(self, model: Any, layout: Layout, score_cutoff: float) -> None:
        self.model, self.layout, self.score_cutoff = model, layout, score_cutoff

    def __call__(self, frames: Dataset) -> np.ndarray:
        """Predict the frames' image files."""
        from benchmark.images import read_image

        return self.predict_images([read_image(p) for p in frames.image_paths])

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Predict ``(H, W, 3)`` uint8 RGB frames (any sizes)."""
        batch, scales = self.layout.arrays(images)
        out = np.asarray(self.model.predict(batch, batch_size=8, verbose=0), dtype=np.float64)
        xy = (out[..., :2] + 0.5) / scales[:, None, None] - 0.5
        pred = np.concatenate([xy, out[..., 2:3]], axis=-1)
        pred[~np.isfinite(pred[..., :2]).all(axis=-1), :2] = np.nan
        return pred


# ----- data conversion (numpy, PIL and h5py only) -----
class Layout:
    """How frames become network input: scale down to ``max_size``, pad to a multiple of 32.

    Each frame keeps its own scale (frames of different sizes work); all share one canvas.
    """

    def __init__(self, max_size: int, width: int, height: int) -> None:
        self.max_size, self.width, self.height = max_size, width, height

    @classmethod
    def fit(cls, frames: Dataset, max_size: int) -> Layout:
        """The canvas that holds every frame of ``frames`` once scaled."""
        from benchmark.images import image_size

        w = h = 1
        for path in frames.image_paths:
            fw, fh = image_size(path)
            s = _scale(fw, fh, max_size)
            w, h = max(w, round(fw * s)), max(h, round(fh * s))
        return cls(max_size, _round_up(w), _round_up(h))

    def to_dict(self) -> dict[str, int]:
        """Plain data for the model's metadata file."""
        return {"max_size": self.max_size, "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> Layout:
        """Inverse of ``to_dict``."""
        return cls(int(data["max_size"]), int(data["width"]), int(data["height"]))

    def images(self, frames: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """``(N, H, W, 3)`` uint8 network input and each frame's scale factor."""
        from benchmark.images import read_image

        return self.arrays([read_image(p) for p in frames.image_paths])

    def arrays(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`images` for ``(H, W, 3)`` uint8 RGB arrays."""
        from PIL import Image

        out = np.zeros((len(images), self.height, self.width, 3), dtype=np.uint8)
        scales = np.ones(len(images))
        for i, image in enumerate(images):
            h, w = image.shape[:2]
            s = _scale(w, h, self.max_size)
            nw, nh = min(round(w * s), self.width), min(round(h * s), self.height)
            if (nw, nh) != (w, h):
                image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
            out[i, :nh, :nw] = image
            scales[i] = nw / w
        return out, scales


def write_dpk_data(train: Dataset, layout: Layout, h5_path: Path, csv_path: Path) -> np.ndarray:
    """Write DeepPoseKit's HDF5 data file and skeleton CSV; returns which frames it holds.

    Every frame with at least one label goes in, marked annotated (``DataGenerator`` trains
    only on frames whose every keypoint is), with NaN for its missing keypoints: what
    DeepPoseKit's annotator writes for a keypoint marked not visible ("V").
    """
    import h5py

    used = train.labeled.any(axis=1)
    frames = train.subset([f for f, u in zip(train.frame_ids, used, strict=True) if u])
    images, scales = layout.images(frames)
    annotations = (frames.points + 0.5) * scales[:, None, None] - 0.5  # NaN stays NaN
    annotated = np.ones(frames.points.shape[:2], dtype=bool)
    parents, swaps = skeleton_columns(train.skeleton)
    tmp = h5_path.with_suffix(".tmp.h5")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=images, compression="gzip", compression_opts=1)
        f.create_dataset("annotations", data=annotations.astype(np.float64))
        f.create_dataset("annotated", data=annotated)
        f.create_dataset("skeleton", data=np.stack([parents, swaps], axis=1).astype(np.int32))
        f.create_dataset(
            "skeleton_names", data=np.array(train.keypoints, dtype=h5py.string_dtype())
        )
    os.replace(tmp, h5_path)
    lines = ["name,parent,swap"]
    for name, parent, swap in zip(train.keypoints, parents, swaps, strict=True):
        lines.append(
            f"{name},{train.keypoints[parent] if parent >= 0 else ''},"
            f"{train.keypoints[swap] if swap >= 0 else ''}"
        )
    atomic_write_text(csv_path, "\n".join(lines) + "\n")
    return used


def fit_layout(train: Dataset, config: Mapping[str, Any]) -> tuple[Layout, Resolution | None]:
    """The network input for ``train``: ``max_size``, raised where the labels need it
    (:mod:`benchmark.resolution`, with the largest frame's scale as the profile's), unless
    ``resolution_from_data`` is off (then no :class:`Resolution`)."""
    max_size, resolution = int(config["max_size"]), None
    if config["resolution_from_data"]:
        longest = max(max(size) for size in train.image_sizes())
        resolution = input_resolution(train, min(1.0, max_size / longest))
        max_size = max(max_size, math.ceil(resolution.scale * longest))
    return Layout.fit(train, max_size), resolution


def training_notes(
    train: Dataset, used: np.ndarray, model: str, layout: Layout, use_graph: bool
) -> dict[str, Any]:
    """What the model was trained on, for the notes file."""
    labeled = train.labeled[used]
    notes: dict[str, Any] = {
        "model": model,
        "frames_used": int(used.sum()),
        "frames_used_with_missing_labels": int((~labeled.all(axis=1)).sum()),
        "missing_labels_in_frames_used": int((~labeled).sum()),
        "frames_dropped_unlabelled": int((~used).sum()),
        "input_size": [layout.width, layout.height],
        "mirroring": mirroring_note(train.skeleton),
    }
    if use_graph:
        # An edge with one end labelled and the other not: DeepPoseKit's skeleton map draws
        # it from the labelled end towards the other's stand-in (-99999, -99999).
        parents, _ = skeleton_columns(train.skeleton)
        child, parent = np.flatnonzero(parents >= 0), parents[parents >= 0]
        half = labeled[:, child] != labeled[:, parent]
        notes["frames_with_half_labelled_edges"] = int(half.any(axis=1).sum())
    return notes


def mirroring_note(skeleton: Skeleton) -> str:
    """The notes' ``mirroring`` line. Training passes ``augmenter=None``, so DeepPoseKit
    never mirrors; the swap index its data file holds is the harness's pairs."""
    return f"off: no augmenter (swap index: {skeleton.mirroring().describe(skeleton.keypoints)})"


def skeleton_columns(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """DeepPoseKit's ``parent`` and ``swap`` index columns (-1 = none).

    Parents come from the edges as a forest (the first keypoint of each connected part is
    its root); swaps are the harness's left/right pairs (:meth:`Skeleton.flip_pairs`), none
    at all when nothing may mirror: an augmenter that flips with this index (DeepPoseKit's
    ``FlipAxis``) must then not be used.
    """
    n = len(skeleton.keypoints)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in skeleton.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parents = np.full(n, -1)
    seen = [False] * n
    for root in range(n):
        if seen[root]:
            continue
        seen[root], queue = True, [root]
        while queue:
            node = queue.pop(0)
            for other in neighbours[node]:
                if not seen[other]:
                    seen[other], parents[other] = True, node
                    queue.append(other)
    swaps = np.full(n, -1)
    for i, j in skeleton.flip_pairs():
        swaps[i], swaps[j] = j, i
    return parents, swaps


def _scale(width: int, height: int, max_size: int) -> float:
    return min(1.0, max_size / max(width, height))


def _round_up(size: int) -> int:
    return -(-size // SIZE_MULTIPLE) * SIZE_MULTIPLE


def _setup(seed: int | None) -> Any:
    """Import TensorFlow with its thread count and seed set, and apply the compat fixes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from adapters.deepposekit import compat

    threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        except RuntimeError:
            pass  # already fixed by an earlier call in this process
    compat.apply()
    if seed is not None:
        tf.keras.utils.set_random_seed(seed)  # python, numpy and TensorFlow
    return tf
