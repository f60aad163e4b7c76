"""SLEAP through sleap-nn 0.3 (SLEAP's PyTorch backend), driven by its own public API.

``train`` writes the job's train and val frames as ``.pkg.slp`` files with the images
embedded (``<workdir>/sleap_data/``), builds a sleap-nn training config with sleap-nn's own
config builders (``sleap_nn.config.get_config``) and trains a single-instance model with
sleap-nn's documented Python API, ``ModelTrainer.get_model_trainer_from_config(config).train()``,
on exactly those files: ``train_labels_path`` and ``val_labels_path`` are both given, so
sleap-nn makes no random split of its own. Without val frames, sleap-nn validates on up to
16 train frames spread over the train set (``MAX_TRAIN_AS_VAL``): its "best" checkpoint is
then the one with the lowest loss on those, i.e. in effect the last one, as for a user with
no validation set; validating on all train frames would add a third to a CPU epoch. Frames
with no labelled keypoint are left out (sleap-nn would train on them as an instance with
every node missing). The run folder (``<workdir>/sleap_model`` with
``training_config.yaml``, ``initial_config.yaml``, ``training_log.csv`` and ``best.ckpt``)
is the model dir; it works as is with ``sleap-nn track --model_paths <workdir>/sleap_model``.

Not ``sleap_nn.train.run_training``: that wraps the same two calls and then predicts and
evaluates the whole train and val files (its ``metrics.{train,val}.0.*`` files), which the
harness does not use and which would be timed as training (an inference pass over every
train and val frame).

The training protocol (:mod:`adapters.base`) runs through one Lightning callback of ours.
``ModelTrainer.train`` builds its ``lightning.Trainer`` itself: it takes no extra
callbacks, exposes the trainer only once ``train`` runs, and its config has no time limit.
So ``train`` uses a subclass of ``ModelTrainer`` that appends the callback to the list
sleap-nn builds (``_setup_loggers_callbacks``), and otherwise runs sleap-nn's own code. The
callback calls ``training_starts`` from Lightning's ``on_train_start`` (after sleap-nn's
setup: labels loaded, datasets built, sanity validation) and ``end_epoch`` from
``on_train_epoch_end`` with the epoch's ``train/loss`` and ``val/loss`` (sleap-nn's logged
values; ``val/loss`` is on the val frames, or on the train frames used as val). A
``snapshot`` answer saves the current weights with ``Trainer.save_checkpoint`` as
``<snapshot>/best.ckpt`` next to a copy of ``training_config.yaml``: a run folder that
sleap-nn's ``Predictor`` (and ``load(..., snapshot=...)``) reads. A ``stop`` answer sets
``trainer.should_stop``, Lightning's graceful stop: the epoch ends, sleap-nn finishes
normally. The model is then, as after a full schedule, sleap-nn's own choice, ``best.ckpt``:
the epoch with the lowest ``val/loss`` so far (with no val frames: the loss on the train
frames used as val, in effect the latest epoch); the notes say ``stopped_by_budget``.

``load`` builds sleap-nn's ``Predictor`` once (``Predictor.from_model_paths``); calling the
predictor runs ``Predictor.predict`` on the frames as in-memory arrays (grouped by image
size) and returns x, y (original pixels: sleap-nn undoes its own input scaling) and the
confidence-map peak value. The cutoff is the harness's (one rule for every framework):
sleap-nn predicts with a peak threshold of -inf, so every node gets its confidence map's
global peak, whatever its value. With a threshold of 0 sleap-nn still returns NaN for a
node whose map has no positive value (``find_global_peaks_rough`` NaN-pads peaks
``< threshold``, and the UNet's confidence-map head is linear, so an undertrained map can
be negative everywhere: 8 of 16 nodes after one epoch on the conformance frames). Such a
peak's score is then <= 0. The ``peak_threshold`` option (sleap-nn's default 0.2) is the
predictor's ``score_cutoff``: SLEAP's own cutoff, which the harness applies as a second set
of metrics (what sleap-nn itself would report as not found).

Configured for the data. With ``recommend: true`` (the default) ``train`` asks sleap-nn's own
config generator (``sleap_nn.config_generator``, what ``sleap-nn config labels.slp`` runs) for
its recommendation on the written ``train.pkg.slp``, before the training clock starts:
input scale and sigma from the image and animal sizes, the UNet's receptive field
(``max_stride``) and width from the animal size, and the rotation range for an unknown camera
view (see :func:`recommend_options`). Options the run config gives win; the recommendation
fills the others, in place of the adapter's defaults. The notes record ``recommended`` (the
values), ``overridden`` (each given option whose value differs: ``{recommended, used}``), a
one-line ``recommendation`` and, as ``adapter_config``, the options trained with.
``recommend: false`` trains with the defaults and records none of it.

Weights. sleap-nn's UNet has no pretrained weights. ConvNeXt and Swin-T can start from
torchvision's ImageNet weights: ``pretrained: auto`` uses them when they are in torch's hub
cache, or downloads them unless ``HF_HUB_OFFLINE`` is set (then random init); ``true``
requires them; ``false`` never uses them. What was used is in
``<model dir>/kpbench_notes.json``.

Metrics cross-check (tests/integration/test_sleap.py). sleap-nn's own evaluation
(``run_evaluation`` / ``Evaluator``) on the same ground truth and predictions gives the
harness's numbers: its distance ``avg``, ``p50`` and ``p90`` equal ``mean_px``,
``median_px`` and ``p90_px`` (both over detected labelled keypoints, ``np.percentile`` with
linear interpolation; measured difference 0 to 1e-15 px). Its ``PCK@5``/``PCK@10`` differ
by definition: (1) the denominator is every node of every frame that has a predicted
instance, so a node unlabelled in the ground truth counts as a failure, and a frame with no
prediction at all is left out; the harness counts labelled keypoints of every test frame,
misses as failures; (2) the threshold is strict (``d < T``; the harness's is ``d <= T``),
which matters only for errors of exactly T px. Recomputed on sleap-nn's denominator the
harness's PCK equals sleap-nn's (difference 0). As reported, on 8 test frames with ~10%
unlabelled points: harness pck@5/@10 0.839/1.000, sleap-nn 0.813/0.969; with one frame and
two points not predicted: 0.677/0.806 vs 0.750/0.893.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from adapters.base import Adapter, ConfigError, read_notes, spread_subset, write_notes
from adapters.options import (
    POSITIVE,
    POSITIVE_INT,
    Number,
    OneOf,
    Pair,
    ResolvedOptions,
    Rule,
    given_options,
)
from adapters.pretrained import choose_pretrained
from benchmark.dataset import Dataset
from benchmark.resolution import input_resolution

if TYPE_CHECKING:
    from omegaconf import DictConfig

DATA_DIR = "sleap_data"
MODEL_DIR = "sleap_model"
BACKBONES = ("unet", "convnext", "swint")
POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64, 128)
#: The options sleap-nn's config generator recommends from the data (``recommend: true``);
#: the last three only for the UNet backbone.
RECOMMENDED = ("input_scale", "sigma", "rotation", "max_stride", "filters", "filters_rate")
UNET_ONLY = ("max_stride", "filters", "filters_rate")
# torchvision ImageNet weights sleap-nn loads for each backbone (tiny variants).
IMAGENET_WEIGHTS = {"convnext": "ConvNeXt_Tiny_Weights", "swint": "Swin_T_Weights"}
# Without val frames, sleap-nn validates on this many train frames (a full pass over the
# train set after every epoch would cost a third of the training time on a CPU).
MAX_TRAIN_AS_VAL = 16
#: The peak threshold sleap-nn predicts with: every node's global peak, whatever its value
#: (0 would still drop maps with no positive value); ``peak_threshold`` is ``score_cutoff``.
PREDICT_PEAK_THRESHOLD = float("-inf")


@dataclass(frozen=True)
class Setup:
    """A training job set up for sleap-nn (:meth:`SleapAdapter.prepare`).

    Attributes:
        config: The adapter options trained with.
        sleap_config: sleap-nn's training config built from them.
        model_dir: The run folder sleap-nn will write.
        notes: The notes known before training (see the module docstring).
    """

    config: dict[str, Any]
    sleap_config: DictConfig
    model_dir: Path
    notes: dict[str, Any]


class SleapAdapter(Adapter):
    """SLEAP's single-instance confidence-map model trained and run by sleap-nn.

    Options (CPU-sized defaults; sleap-nn's own defaults in brackets):
        backbone: ``unet`` [unet], ``convnext`` or ``swint`` (tiny variants).
        filters, filters_rate: UNet width of the first block and its growth per block
            [32, 1.5]; ignored by ConvNeXt/Swin-T.
        max_stride: UNet down-sampling (a power of two, also the receptive field's scale)
            [16]; ConvNeXt/Swin-T use their architecture's 32.
        output_stride: confidence-map resolution, input pixels per cell [1].
        sigma: Gaussian confidence-map spread in network-input pixels (after input_scale) [5.0].
        input_scale: resize factor applied to frames before the network [1.0].
        epochs, batch_size, learning_rate: schedule [10, 1, 1e-3] (Adam, sleap-nn's
            reduce-on-plateau learning-rate schedule).
        min_steps_per_epoch: sleap-nn's ``min_train_steps_per_epoch`` [200]: an epoch is
            ``max(batches in the train set, this)`` steps; 1 makes an epoch one pass.
        augmentation: geometric augmentation on/off [on]; ``rotation`` is the largest
            angle in degrees (0 = none) [15], ``scale`` the ``[min, max]`` zoom, or null
            [0.9, 1.1].
        peak_threshold: SLEAP's cutoff, the predictor's ``score_cutoff``: the harness counts
            a peak below it as "not detected" in its second set of metrics [0.2]. sleap-nn
            predicts without a cutoff (see the module docstring).
        integral_refinement: sub-pixel peak refinement [on].
        pretrained: ``auto``, ``true`` or ``false``: ImageNet weights for ConvNeXt/Swin-T
            (see the module docstring).
        device: ``cpu``, ``auto`` (CUDA when available) or ``cuda``.
        predict_batch_size: frames per inference batch.
        recommend: take sleap-nn's recommendation from the training frames for the options
            not given (input_scale, sigma, rotation and the UNet's max_stride, filters and
            filters_rate; see the module docstring); false: the defaults above.
        resolution_from_data: raise a given ``input_scale`` (or, without ``recommend``,
            the default) where the labels need it, by the rule every adapter that scales
            frames down shares (:mod:`benchmark.resolution`); false: use it as given.
    """

    name: ClassVar[str] = "sleap"
    framework: ClassVar[str | None] = "sleap-nn"
    #: sleap-nn seeds Python, NumPy, torch and Lightning from the job seed (CPU runs repeat).
    deterministic: ClassVar[bool] = True
    default_config: ClassVar[Mapping[str, Any]] = {
        "backbone": "unet",
        "filters": 16,
        "filters_rate": 1.5,
        "max_stride": 16,
        "output_stride": 2,
        "sigma": 2.5,
        "input_scale": 0.5,
        "epochs": 15,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "min_steps_per_epoch": 1,
        "augmentation": True,
        "rotation": 15.0,
        "scale": [0.9, 1.1],
        "peak_threshold": 0.2,
        "integral_refinement": True,
        "pretrained": "auto",
        "device": "cpu",
        "predict_batch_size": 8,
        "recommend": True,
        "resolution_from_data": True,
    }

    option_rules: ClassVar[Mapping[str, Rule]] = {
        "backbone": OneOf(BACKBONES),
        "filters": POSITIVE_INT,
        "filters_rate": POSITIVE,
        "max_stride": OneOf(POWERS_OF_TWO),
        "output_stride": OneOf(POWERS_OF_TWO),
        "sigma": POSITIVE,
        "input_scale": POSITIVE,
        "epochs": POSITIVE_INT,
        "batch_size": POSITIVE_INT,
        "learning_rate": POSITIVE,
        "min_steps_per_epoch": POSITIVE_INT,
        "rotation": Number(min=0, max=180),
        "scale": Pair(POSITIVE, ordered=True, nullable=True),
        "peak_threshold": Number(min=0, below=1),
        "pretrained": OneOf(("auto", True, False)),
        "device": OneOf(("cpu", "auto", "cuda")),
        "predict_batch_size": POSITIVE_INT,
    }

    @classmethod
    def resolve_config(cls, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with ``config``, checked, strides consistent."""
        cfg = super().resolve_config(config)
        _check_strides(cfg)
        return cfg

    # ----- training -----
    def train(
        self,
        train: Dataset,
        val: Dataset | None,
        workdir: Path,
        config: Mapping[str, Any],
        seed: int,
    ) -> Path:
        """Write ``train``/``val`` as ``.pkg.slp`` files and train sleap-nn on them."""
        setup = self.prepare(train, val, workdir, config, seed)
        epochs = _train_sleap_nn(self, setup.sleap_config, setup.config["epochs"], setup.model_dir)
        if not (setup.model_dir / "best.ckpt").is_file():
            raise RuntimeError(f"sleap-nn finished without writing {setup.model_dir / 'best.ckpt'}")
        notes = {
            **setup.notes,
            "epochs_run": epochs.done,
            "stopped_by_budget": epochs.stopped,
            "adapter_config": setup.config,
        }
        write_notes(setup.model_dir, notes)
        return setup.model_dir

    def prepare(
        self,
        train: Dataset,
        val: Dataset | None,
        workdir: Path,
        config: Mapping[str, Any],
        seed: int,
    ) -> Setup:
        """What ``train`` does before sleap-nn trains: the ``.pkg.slp`` files written, the
        options chosen (sleap-nn's recommendation for those not given) and sleap-nn's
        training config built."""
        from benchmark.io.sleap import write_pkg_slp

        cfg = self.resolve_config(config)
        workdir = Path(workdir).resolve()
        model_dir = workdir / MODEL_DIR
        data_dir = workdir / DATA_DIR
        for stale in (model_dir, data_dir):  # a previous, unfinished attempt
            shutil.rmtree(stale, ignore_errors=True)
        data_dir.mkdir(parents=True)

        train_used = _labelled_only(train)
        if train_used is None:
            raise ValueError("sleap: no train frame has a labelled keypoint")
        val_used = _labelled_only(val)
        validation = "val frames"
        if val_used is None:
            val_used = spread_subset(train_used, MAX_TRAIN_AS_VAL)
            validation = f"{val_used.n_frames} of the train frames (no val frames given)"
        train_path = write_pkg_slp(train_used, data_dir / "train.pkg.slp")
        val_path = write_pkg_slp(val_used, data_dir / "val.pkg.slp")
        resolution = None
        if cfg["resolution_from_data"] and (
            "input_scale" in given_options(cfg) or not cfg["recommend"]
        ):
            # Before the recommendation, which sizes the receptive field for this scale.
            resolution = input_resolution(train_used, float(cfg["input_scale"]))
            cfg = ResolvedOptions(
                {**cfg, "input_scale": resolution.scale}, given=given_options(cfg)
            )
        recommendation: dict[str, Any] = {}
        if cfg["recommend"]:
            cfg, recommendation = apply_recommendation(cfg, recommend_options(train_path, cfg))

        pretrained, why = resolve_pretrained(cfg)
        sleap_cfg = training_config(
            cfg,
            train_path=train_path,
            val_path=val_path,
            ckpt_dir=workdir,
            run_name=MODEL_DIR,
            seed=seed,
            pretrained=pretrained,
        )
        n_given = train.n_frames + (val.n_frames if val is not None else 0)
        notes = {
            "model_type": "single_instance",
            "backbone": cfg["backbone"],
            "pretrained": pretrained,
            "pretrained_reason": why,
            "validation": validation,
            "n_train_frames": train_used.n_frames,
            "n_val_frames": val_used.n_frames,
            "dropped_unlabelled_frames": n_given
            - train_used.n_frames
            - (val_used.n_frames if validation == "val frames" else 0),
            "model_selection": "best.ckpt: sleap-nn's lowest val/loss epoch",
            "mirroring": "off: sleap-nn's flip_p is 0",
            "training_config": "training_config.yaml",
            "train_labels": str(train_path),
            "val_labels": str(val_path),
            **recommendation,
        }
        if resolution is not None:
            notes["resolution"] = resolution.note()
        return Setup(dict(cfg), sleap_cfg, model_dir, notes)

    # ----- prediction -----
    def load(self, model_dir: Path, workdir: Path, snapshot: Path | None = None) -> SleapPredictor:
        """Build sleap-nn's ``Predictor`` for the run folder ``model_dir`` (or for the
        snapshot folder ``snapshot``, a run folder of its own)."""
        cfg = self.resolve_config(read_notes(model_dir).get("adapter_config"))
        return SleapPredictor(Path(model_dir if snapshot is None else snapshot), cfg)

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """Parameter count and size of ``best.ckpt`` (weights plus optimizer state)."""
        import torch

        ckpt = Path(model_dir) / "best.ckpt"
        state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
        n_params = sum(
            int(t.numel())
            for k, t in state.items()
            if t.is_floating_point() and "running_" not in k
        )
        return {"n_params": n_params, "model_mb": ckpt.stat().st_size / 2**20}


class SleapPredictor:
    """A trained sleap-nn model loaded once; maps frames to ``(n, k, 3)`` x, y, score.

    Attributes:
        score_cutoff: The ``peak_threshold`` option: SLEAP's own cutoff, which the harness
            applies to the returned scores (sleap-nn itself predicts with no threshold).
    """

    def __init__(self, model_dir: Path, cfg: Mapping[str, Any]) -> None:
        from sleap_nn.inference.predictor import Predictor as SleapNNPredictor

        self.model_dir = Path(model_dir)
        self.score_cutoff = float(cfg["peak_threshold"])
        self._predictor = SleapNNPredictor.from_model_paths(
            [str(self.model_dir)],
            device=_torch_device(cfg["device"]),
            batch_size=cfg["predict_batch_size"],
            peak_threshold=PREDICT_PEAK_THRESHOLD,
            integral_refinement="integral" if cfg["integral_refinement"] else "none",
        )
        self.n_keypoints = len(self._predictor.skeleton.nodes)

    def __call__(self, frames: Dataset) -> np.ndarray:
        """Predict the frames of ``frames`` (read from their image files)."""
        from benchmark.images import read_image

        return self.predict_images([read_image(p) for p in frames.image_paths])

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Predict ``(H, W, 3)`` uint8 RGB frames: ``(n, k, 3)`` x, y, score, NaN = miss."""
        out = np.full((len(images), self.n_keypoints, 3), np.nan)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(np.shape(image), []).append(i)
        for indices in by_shape.values():
            stack = np.stack([np.asarray(images[i]) for i in indices])
            for batch in self._predictor.predict(stack, make_labels=False, frames=indices):
                _fill(out, batch, first=0)
        return out

    def predict_video(self, video: Path, keypoints: Sequence[str]) -> Iterator[np.ndarray]:
        """Every frame of ``video`` through sleap-nn's own video reader and streaming
        inference (``Predictor.predict_streaming``).

        Yields:
            ``(m, k, 3)`` blocks of consecutive frames from frame 0, one per batch.
        """
        names = [node.name for node in self._predictor.skeleton.nodes]
        if list(keypoints) != names:
            raise ValueError(f"the SLEAP model's nodes are {names}, not {list(keypoints)}")
        first = 0
        for batch in self._predictor.predict_streaming(str(video)):
            last = int(batch.frame_indices.max()) if len(batch.frame_indices) else first - 1
            block = np.full((last + 1 - first, self.n_keypoints, 3), np.nan)
            _fill(block, batch, first=first)
            yield block
            first = last + 1


def _fill(out: np.ndarray, batch: Any, first: int) -> None:
    """Write a sleap-nn output batch's first instance into ``out`` rows ``frame - first``."""
    if batch.pred_keypoints is None or batch.pred_keypoints.shape[1] == 0:
        return  # no instance in this batch: all missed
    rows = batch.frame_indices.cpu().numpy() - first
    out[rows, :, :2] = batch.pred_keypoints[:, 0].cpu().numpy()
    out[rows, :, 2] = batch.pred_peak_values[:, 0].cpu().numpy()


# ----- sleap-nn configuration -----
def _check_strides(cfg: Mapping[str, Any]) -> None:
    if cfg["output_stride"] > cfg["max_stride"]:
        raise ConfigError("adapter 'sleap': output_stride must not exceed max_stride")


def recommend_options(labels_path: Path, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """sleap-nn's recommended options for the frames in ``labels_path``.

    sleap-nn's ``ConfigGenerator.from_slp(labels_path).auto()`` (what ``sleap-nn config``
    runs), camera view unknown: ``input_scale`` from the image size, ``sigma`` from the
    largest animal, ``rotation`` the view-unknown range, and for the UNet its receptive
    field and width (``max_stride``, ``filters``, ``filters_rate``). Its batch size (a GPU
    memory rule), epochs and learning rate are not taken. ``max_stride`` is sleap-nn's rule
    at the input scale trained with: the largest of the chosen UNet's stride (16, or 32
    for its large-receptive-field UNet), the stride for the average animal's size and the
    smallest stride whose receptive field covers the largest animal.

    Args:
        labels_path: The training frames (``.slp`` or ``.pkg.slp``).
        cfg: The resolved options: the backbone, and the input scale when it was given.

    Returns:
        The recommended value of each option of :data:`RECOMMENDED` that applies to the
        backbone.
    """
    from sleap_nn.config_generator import ConfigGenerator
    from sleap_nn.config_generator.architecture_estimates import (
        compute_max_stride_for_animal_size,
        recommend_default_max_stride,
    )

    generator = ConfigGenerator.from_slp(str(labels_path)).auto()
    rec, stats = generator.recommend(), generator.stats
    unet = generator.build().model_config.backbone_config.unet
    scale = cfg["input_scale"] if "input_scale" in given_options(cfg) else rec.input_scale
    max_stride = max(
        32 if rec.backbone == "unet_large_rf" else 16,  # as in ConfigGenerator.auto
        recommend_default_max_stride(stats.avg_bbox_diagonal, scale),
        compute_max_stride_for_animal_size(stats.max_bbox_size * scale),
    )
    options = {
        "input_scale": float(rec.input_scale),
        "sigma": float(rec.sigma),
        "rotation": float(max(abs(a) for a in rec.rotation_range)),
        "max_stride": int(max_stride),
        "filters": int(unet.filters),
        "filters_rate": float(unet.filters_rate),
    }
    if cfg["backbone"] != "unet":
        options = {k: v for k, v in options.items() if k not in UNET_ONLY}
    return options


def apply_recommendation(
    cfg: Mapping[str, Any], recommended: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options to train with, and the notes that say how they were chosen.

    Options the run config gave win; ``recommended`` fills the others.

    Args:
        cfg: The resolved options (their ``given`` says which the run config set).
        recommended: sleap-nn's recommendation (:func:`recommend_options`).

    Returns:
        The options, and the notes ``recommended``, ``overridden`` (each given option
        whose value differs from the recommendation: ``{"recommended": r, "used": u}``)
        and ``recommendation`` (the two in one line).

    Raises:
        ConfigError: The recommended ``max_stride`` is below a given ``output_stride``.
    """
    given = given_options(cfg)
    used = {**cfg, **{k: v for k, v in recommended.items() if k not in given}}
    _check_strides(used)
    overridden = {
        k: {"recommended": v, "used": cfg[k]}
        for k, v in recommended.items()
        if k in given and cfg[k] != v
    }
    line = "sleap-nn recommended " + _words(recommended)
    if "max_stride" in recommended and used["input_scale"] != recommended["input_scale"]:
        line += f" (max_stride for input_scale {used['input_scale']})"
    line += (
        "; the run config set " + _words({k: o["used"] for k, o in overridden.items()})
        if overridden
        else "; all used"
    )
    notes = {"recommended": dict(recommended), "overridden": overridden, "recommendation": line}
    return used, notes


def _words(options: Mapping[str, Any]) -> str:
    """``input_scale 1.0, sigma 7.5``."""
    return ", ".join(f"{key} {value}" for key, value in options.items())


def training_config(
    cfg: Mapping[str, Any],
    *,
    train_path: Path,
    val_path: Path,
    ckpt_dir: Path,
    run_name: str,
    seed: int,
    pretrained: bool = False,
) -> DictConfig:
    """sleap-nn's training config for the adapter options ``cfg`` (built by sleap-nn)."""
    from sleap_nn.config.get_config import get_data_config, get_model_config, get_trainer_config
    from sleap_nn.config.training_job_config import TrainingJobConfig

    geometric = None
    if cfg["augmentation"]:
        rotation = float(cfg["rotation"])
        scale = cfg["scale"]
        geometric = {
            "rotation_min": -rotation,
            "rotation_max": rotation,
            "rotation_p": 1.0 if rotation > 0 else 0.0,
            "scale_min": float(scale[0]) if scale else 1.0,
            "scale_max": float(scale[1]) if scale else 1.0,
            "scale_p": 1.0 if scale else 0.0,
            # Never mirrored (sleap-nn's default too). Were it set, sleap-nn would swap the
            # skeleton's symmetries, which the written .pkg.slp holds as the harness's pairs.
            "flip_p": 0.0,
        }
    data_config = get_data_config(
        train_labels_path=[str(train_path)],
        val_labels_path=[str(val_path)],
        ensure_rgb=True,  # the harness's frames are RGB; grey frames are read as RGB too
        scale=float(cfg["input_scale"]),
        use_augmentations_train=bool(cfg["augmentation"]),
        geometry_aug=geometric,
    )
    backbone: dict[str, Any] = {"in_channels": 3, "output_stride": cfg["output_stride"]}
    if cfg["backbone"] == "unet":
        backbone |= {
            "filters": cfg["filters"],
            "filters_rate": float(cfg["filters_rate"]),
            "max_stride": cfg["max_stride"],
        }
    else:
        backbone |= {
            "model_type": "tiny",
            "pre_trained_weights": IMAGENET_WEIGHTS[cfg["backbone"]] if pretrained else None,
        }
    model_config = get_model_config(
        backbone_config={cfg["backbone"]: backbone},
        head_configs={
            "single_instance": {
                "confmaps": {
                    "part_names": None,
                    "sigma": float(cfg["sigma"]),
                    "output_stride": cfg["output_stride"],
                }
            }
        },
    )
    accelerator = {"cpu": "cpu", "auto": "auto", "cuda": "gpu"}[cfg["device"]]
    trainer_config = get_trainer_config(
        batch_size=cfg["batch_size"],
        max_epochs=cfg["epochs"],
        min_train_steps_per_epoch=cfg["min_steps_per_epoch"],
        learning_rate=float(cfg["learning_rate"]),
        trainer_accelerator=accelerator,
        trainer_num_devices=1,
        num_workers=0,
        enable_progress_bar=False,
        use_wandb=False,
        save_ckpt=True,
        ckpt_dir=str(ckpt_dir),
        run_name=run_name,
        seed=seed,
    )
    job = TrainingJobConfig(
        data_config=data_config, model_config=model_config, trainer_config=trainer_config
    )
    return job.to_sleap_nn_cfg()


def resolve_pretrained(cfg: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether to start from ImageNet weights, and why (see the module docstring).

    Raises:
        ConfigError: ``pretrained: true`` for UNet, or offline without cached weights.
    """
    backbone, wanted = cfg["backbone"], cfg["pretrained"]
    if backbone == "unet":
        if wanted is True:
            raise ConfigError("adapter 'sleap': the unet backbone has no pretrained weights")
        return False, "unet: no pretrained weights exist (random init)"
    weights = f"torchvision's ImageNet {IMAGENET_WEIGHTS[backbone]}"
    return choose_pretrained("sleap", wanted, weights, cached=lambda: _imagenet_cached(backbone))


def _imagenet_cached(backbone: str) -> bool:
    """Whether torchvision's ImageNet weights for ``backbone`` are in torch's hub cache."""
    import torch
    import torchvision.models as tvm

    weights = getattr(tvm, IMAGENET_WEIGHTS[backbone]).DEFAULT
    name = weights.url.rsplit("/", 1)[-1]
    return (Path(torch.hub.get_dir()) / "checkpoints" / name).is_file()


def _torch_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _labelled_only(ds: Dataset | None) -> Dataset | None:
    """``ds`` without frames that have no labelled keypoint (None when nothing is left).

    sleap-nn would train on such frames as an instance with every node missing.
    """
    if ds is None:
        return None
    keep = [f for f, lab in zip(ds.frame_ids, ds.labeled, strict=True) if lab.any()]
    return ds.subset(keep) if keep else None


# ----- the training protocol -----
@dataclass
class _Epochs:
    """What the training clock's callback saw: epochs finished, and whether it stopped."""

    done: int = 0
    stopped: bool = False


def _train_sleap_nn(adapter: Adapter, sleap_cfg: DictConfig, epochs: int, run_dir: Path) -> _Epochs:
    """Train with sleap-nn's ``ModelTrainer`` plus one Lightning callback, the training clock's.

    See the module docstring. The callback is a ``Checkpoint`` so that Lightning calls
    its ``on_train_epoch_end`` after the LightningModule's, where sleap-nn logs the epoch's
    ``train/loss``, and after sleap-nn's ``ModelCheckpoint`` has updated ``best.ckpt``.
    """
    from lightning.pytorch.callbacks import Checkpoint
    from sleap_nn.training.model_trainer import ModelTrainer

    seen = _Epochs()

    class TrainingClockCallback(Checkpoint):
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            adapter.training_starts()

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            metrics = trainer.callback_metrics
            seen.done = int(trainer.current_epoch) + 1
            answer = adapter.end_epoch(
                seen.done,
                epochs,
                loss=_metric(metrics, "train/loss"),
                val_loss=_metric(metrics, "val/loss"),
            )
            if answer.snapshot is not None:
                trainer.save_checkpoint(answer.snapshot / "best.ckpt", weights_only=True)
                shutil.copy2(run_dir / "training_config.yaml", answer.snapshot)
            if answer.stop:  # Lightning ends the fit after this epoch
                trainer.should_stop = True
                seen.stopped = True

    class KpbenchModelTrainer(ModelTrainer):
        def _setup_loggers_callbacks(self, viz_train_dataset: Any, viz_val_dataset: Any) -> Any:
            loggers, callbacks = super()._setup_loggers_callbacks(
                viz_train_dataset=viz_train_dataset, viz_val_dataset=viz_val_dataset
            )
            return loggers, [*callbacks, TrainingClockCallback()]

    KpbenchModelTrainer.get_model_trainer_from_config(sleap_cfg).train()
    return seen


def _metric(metrics: Mapping[str, Any], key: str) -> float | None:
    """A logged epoch value as a float (None when sleap-nn did not log it or it is NaN)."""
    value = metrics.get(key)
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
