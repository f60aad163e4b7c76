"""DeepLabCut 3 (PyTorch engine), driven through its own public API.

``train`` writes the frames as a DeepLabCut project in the job's work dir (it stays there,
ready to open in DeepLabCut), creates shuffle 1 with exactly the harness's split
(``create_training_dataset(trainIndices=..., testIndices=...)``: the train frames are DLC's
train set, the val frames its test set, used by DLC only for its periodic evaluation and its
"best" snapshot), and trains with ``train_network``. ``load`` builds DLC's pose inference
runner for the chosen snapshot; the predictor runs DLC's own inference on image files.

Split indices. ``create_training_dataset`` takes row numbers of the table that
``merge_annotateddatasets`` builds: the per-folder ``CollectedData_<scorer>.h5`` tables
concatenated and then ``sort_index()``-ed, i.e. rows ordered by the
``("labeled-data", <folder>, <image>)`` tuples, not in the order the frames were written.
The adapter maps frame ids to those rows and, after creation, checks through DLC's
``DLCLoader`` that DLC's train and test rows are exactly the requested frames. DLC names the
model folder after ``round(n_train / (n_train + n_test), 2)`` and looks the fraction up in
``config.yaml``'s ``TrainingFraction``, so the adapter writes that value there.

Weights. With ``pretrained: false`` nothing is downloaded: the adapter builds DLC's
``PoseModel`` from the shuffle's ``pytorch_config.yaml`` with the pretrained backbone
disabled, saves its state dict as a DLC snapshot (``kpbench-random-init.pt``, epoch 0) and
passes it to ``train_network(snapshot_path=...)``; DLC then skips its ImageNet download (a
``pretrained: false`` in the yaml alone does not). ``auto`` uses DLC's ImageNet weights when
they are cached (Hugging Face cache) or the hub answers, else random init; with
``HF_HUB_OFFLINE=1`` only the cache counts. What was used is written to
``<model dir>/kpbench_notes.json``. Random init also unfreezes batch-norm statistics
(``model.backbone.freeze_bn_stats: false``; HRNet configs freeze them, which only suits
pretrained statistics). Without val frames DLC's test set is the first train frame (DLC
cannot train with an empty one).

Training input. DLC's default training augmentation crops (and pads) every frame to
448x448. On frames smaller than that the padding is pure waste: 2 epochs of resnet_50 on
12 frames of 64x48 px (batch 4, one thread) took 62-68 s of CPU with the 448x448 crop and
3.4-4.2 s cropped to 64x48, about 17x less (wall time alike). The default ``auto`` crops to
``min(448, largest frame side)`` per axis: DLC's default on large frames, no padding on
small ones.

Training clock (:mod:`adapters.base`). ``train`` calls ``training_starts`` right before
``train_network``. DLC offers no epoch callback; its runner (``TrainingRunner.fit``) ends
every epoch by handing the weights to its snapshot manager and then logging
``Epoch e/n (lr=...), train loss x[, valid loss y]`` on the root logger. A filter on the
root logger reads that line and calls ``end_epoch``. For the answer to be honoured at any
epoch, the adapter sets DLC's own snapshot options ``runner.snapshots.save_epochs: 1`` and
``max_snapshots: 1``: DLC then writes every epoch's weights (as ``snapshot-XXX.pt``, or
``snapshot-best-XXX.pt`` when the epoch is DLC's best so far) before the line is logged, and
keeps only the latest one plus its best. A snapshot request hard-links that just-written
file into the harness's folder (a copy where links fail), so no extra weights are written
and DLC's later clean-up does not remove it. A stop (the budget is spent) raises a private
exception from the filter: DLC's runner has no stop hook, the exception leaves ``fit`` and
``train_network`` at the epoch boundary, after the epoch's snapshot was written, and
``train`` catches it. The model is then that epoch's file; a finished schedule keeps DLC's
own choice (``snapshot_index``, -1: DLC's "best" snapshot when it saved one, else the last).
The chosen file, ``stopped_by_budget`` and ``epochs_run`` go to the notes.

Cross-check (tests/integration/test_deeplabcut.py): resnet_50 trained 2 epochs on 12
generated 64x48 frames from two labelled folders, with 4 other frames as DLC's test set.
DLC's ``evaluate_network`` reports test "rmse" 4.50 px (a mean distance over labelled
keypoints, rounded to 0.01 px); the harness's ``mean_px`` on the same predictions is
4.4953 px, a difference of 0.005 px (bound tested: 0.05 px). DLC's evaluation predictions
equal the adapter's to 1e-3 px.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from adapters.base import Adapter, read_notes, write_notes
from adapters.options import POSITIVE_INT, POSITIVE_INT_OR_NULL, Either, OneOf, Pair, Rule
from adapters.pretrained import choose_pretrained, hub_unreachable
from benchmark.dataset import Dataset, Skeleton

PROJECT = "dlc-project"
SHUFFLE = 1
INIT_SNAPSHOT = "kpbench-random-init.pt"
DLC_CROP = 448  # DeepLabCut's default training crop (data.train.crop_sampling)
#: DLC snapshot settings that put every epoch's weights on disk, keeping few of them.
SNAPSHOT_SETTINGS = {"runner.snapshots.save_epochs": 1, "runner.snapshots.max_snapshots": 1}
VIDEO_CHUNK = 64  # frames per inference call in predict_video


class DeepLabCutAdapter(Adapter):
    """DeepLabCut 3 with the PyTorch engine (single animal, bottom-up models).

    Options (``None`` = DeepLabCut's own default for the chosen net):
        net_type: DLC PyTorch net, e.g. ``resnet_50`` (DLC's default), ``hrnet_w18``,
            ``cspnext_s`` (the fastest on a CPU: docs/deeplabcut-backbones.md).
        epochs, batch_size: training schedule (DLC: 200 and 8 for resnet_50).
        train_crop: ``auto`` (``min(448, frame size)`` per axis), ``dlc`` (448x448 as DLC),
            ``none`` (whole frames; all frames must then have one size) or ``[w, h]``.
        pretrained: ``auto`` | ``true`` | ``false`` (see the module docstring).
        device: ``auto`` (DLC picks CUDA/MPS/CPU) or a torch device such as ``cpu``.
        images: ``symlink`` or ``copy`` the frames into the DLC project.
        snapshot_index: DLC's ``snapshotindex`` among the snapshots it kept (the last
            epoch's and its "best"): -1 = the "best" when DLC saved one, else the last.
            Used when the schedule finishes; a budget stop keeps that epoch's weights.
        predict_batch_size: images per inference batch.
        pytorch_cfg_updates: ``{"dotted.key": value}`` applied last to
            ``pytorch_config.yaml`` through DLC's own update mechanism.
    """

    name = "deeplabcut"
    framework = "deeplabcut"
    default_config: Mapping[str, Any] = {
        "net_type": "resnet_50",
        "epochs": None,
        "batch_size": None,
        "train_crop": "auto",
        "pretrained": "auto",
        "device": "auto",
        "images": "symlink",
        "snapshot_index": -1,
        "predict_batch_size": 1,
        "pytorch_cfg_updates": {},
    }

    option_rules: ClassVar[Mapping[str, Rule]] = {
        "epochs": POSITIVE_INT_OR_NULL,
        "batch_size": POSITIVE_INT_OR_NULL,
        "train_crop": Either((OneOf(("auto", "dlc", "none")), Pair(POSITIVE_INT))),
        "pretrained": OneOf(("auto", True, False)),
        "images": OneOf(("symlink", "copy")),
        "predict_batch_size": POSITIVE_INT,
    }

    # ----- training -----
    def train(
        self,
        train: Dataset,
        val: Dataset | None,
        workdir: Path,
        config: Mapping[str, Any],
        seed: int,
    ) -> Path:
        """Write a DLC project with ``train`` (+ ``val`` as DLC's test set) and train on it."""
        cfg = self.resolve_config(config)
        frames = train if val is None or val.n_frames == 0 else concat_frames(train, val)
        project = Path(workdir).resolve() / PROJECT
        loader = self._create_shuffle(frames, train, val, project, cfg)
        backbone = loader.model_cfg.to_dict()["model"].get("backbone") or {}
        pretrained, why = resolve_pretrained(cfg["pretrained"], str(backbone.get("model_name")))
        updates = pytorch_updates(frames, cfg, seed)
        if not pretrained and backbone.get("freeze_bn_stats"):
            # Frozen batch-norm statistics only suit pretrained ones (HRNet configs freeze).
            updates = {"model.backbone.freeze_bn_stats": False, **updates}
        loader.update_model_cfg(updates)  # DLC's own mechanism; saves pytorch_config.yaml
        hflip = loader.model_cfg.to_dict()["data"]["train"].get("hflip")
        safe_hflip, mirroring = hflip_setting(hflip, frames.skeleton)
        if safe_hflip != hflip:
            loader.update_model_cfg({"data.train.hflip": safe_hflip})
        pose_cfg = loader.model_cfg.to_dict()
        init = None if pretrained else random_init(pose_cfg["model"], loader.model_folder, seed)

        import deeplabcut
        from deeplabcut.pose_estimation_pytorch.apis.utils import get_model_snapshots

        hook = _EpochHook(self, loader.model_folder, loader.pose_task.snapshot_prefix)
        self.training_starts()
        # _BudgetSpent: the clock stopped training at an epoch boundary.
        with hook.on_root_logger(), contextlib.suppress(_BudgetSpent):
            deeplabcut.train_network(
                str(project / "config.yaml"), shuffle=SHUFFLE, snapshot_path=init
            )

        if hook.stopped_at is not None:
            snapshot = hook.stopped_at
        else:
            chosen = get_model_snapshots(
                cfg["snapshot_index"], loader.model_folder, loader.pose_task
            )
            if not chosen:
                raise RuntimeError(f"DeepLabCut saved no snapshot in {loader.model_folder}")
            snapshot = Path(chosen[0].path)
        crop = pose_cfg["data"]["train"].get("crop_sampling")
        notes = {
            "pretrained": pretrained,
            "pretrained_reason": why,
            "net_type": cfg["net_type"],
            "epochs": pose_cfg["train_settings"]["epochs"],
            "epochs_run": hook.done,
            "stopped_by_budget": hook.stopped_at is not None,
            "batch_size": pose_cfg["train_settings"]["batch_size"],
            "train_crop": [crop["width"], crop["height"]] if crop else None,
            "dlc_test_set": "val" if val is not None and val.n_frames else "first train frame",
            "mirroring": mirroring,
            "pytorch_config": str(loader.model_config_path.relative_to(project)),
            "snapshot": str(snapshot.relative_to(project)),
            "adapter_config": cfg,
        }
        write_notes(project, notes)
        return project

    def _create_shuffle(
        self,
        frames: Dataset,
        train: Dataset,
        val: Dataset | None,
        project: Path,
        cfg: Mapping[str, Any],
    ) -> Any:
        """Write the project, create shuffle 1 with exactly the given split; DLC's loader."""
        import deeplabcut
        from deeplabcut.pose_estimation_pytorch.data.dlcloader import DLCLoader

        from benchmark.io.dlc import dlc_image_paths, write_dlc_project

        if project.exists():  # a previous, unfinished attempt
            shutil.rmtree(project)
        task = re.sub(r"[^A-Za-z0-9]", "", frames.name) or "kpbench"
        config_path = write_dlc_project(frames, project, images=cfg["images"], task=task)
        rel = dlc_image_paths(frames)
        rows = dlc_rows(rel)
        # DLC needs a non-empty test set to build its validation loader; without val frames
        # it evaluates on the first train frame (model selection is then moot).
        parts = {
            "train": range(train.n_frames),
            "test": range(train.n_frames, frames.n_frames) or range(1),
        }
        train_rows, test_rows = ([rows[i] for i in part] for part in parts.values())
        fraction = round(len(train_rows) / (len(train_rows) + len(test_rows)), 2)
        deeplabcut.auxiliaryfunctions.edit_config(
            str(config_path),
            {"TrainingFraction": [fraction], "snapshotindex": cfg["snapshot_index"]},
        )
        deeplabcut.create_training_dataset(
            str(config_path),
            Shuffles=[SHUFFLE],
            trainIndices=[train_rows],
            testIndices=[test_rows],
            net_type=cfg["net_type"],
            engine=deeplabcut.Engine.PYTORCH,
            userfeedback=False,
        )
        loader = DLCLoader(str(config_path), trainset_index=0, shuffle=SHUFFLE)
        for part, frame_numbers in parts.items():
            got = ["/".join(idx) for idx in loader.df.index[loader.split[part]]]
            if sorted(got) != sorted(rel[i] for i in frame_numbers):
                raise RuntimeError(f"DeepLabCut's {part} rows are not the requested frames")
        return loader

    # ----- prediction -----
    def load(
        self, model_dir: Path, workdir: Path, snapshot: Path | None = None
    ) -> DeepLabCutPredictor:
        """DLC's pose inference runner for the model's snapshot, or the weights in the
        ``snapshot`` folder that ``train`` filled for the harness."""
        from deeplabcut.pose_estimation_pytorch.apis import get_pose_inference_runner
        from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict

        model_dir = Path(model_dir)
        notes = read_notes(model_dir)
        pose_cfg = read_config_as_dict(model_dir / notes["pytorch_config"])
        weights = model_dir / notes["snapshot"] if snapshot is None else snapshot_file(snapshot)
        runner = get_pose_inference_runner(
            model_config=pose_cfg,
            snapshot_path=weights,
            batch_size=int(notes["adapter_config"]["predict_batch_size"]),
            max_individuals=1,
        )
        project_cfg = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
        return DeepLabCutPredictor(
            runner,
            tuple(pose_cfg["metadata"]["bodyparts"]),
            score_cutoff=float(project_cfg.get("pcutoff", 0.6)),
        )

    def model_info(self, model_dir: Path) -> dict[str, Any]:
        """Parameters (buffers excluded) and file size of the snapshot used for prediction."""
        import torch

        path = Path(model_dir) / read_notes(model_dir)["snapshot"]
        state = torch.load(path, map_location="cpu", weights_only=True)["model"]
        buffers = ("running_mean", "running_var", "num_batches_tracked")
        n_params = sum(v.numel() for k, v in state.items() if not k.endswith(buffers))
        return {"n_params": int(n_params), "model_mb": path.stat().st_size / 2**20}


class DeepLabCutPredictor:
    """A loaded DLC model: frames (or RGB arrays) to ``(n, n_keypoints, 3)`` x, y, likelihood.

    Attributes:
        score_cutoff: The project's ``pcutoff``: DeepLabCut's own labelled videos and plots
            treat points with a lower likelihood as unreliable.
    """

    def __init__(self, runner: Any, bodyparts: tuple[str, ...], score_cutoff: float = 0.6) -> None:
        self.runner = runner
        self.bodyparts = bodyparts
        self.score_cutoff = score_cutoff

    def __call__(self, frames: Dataset) -> np.ndarray:
        """Predict the frames' image files, columns in ``frames.keypoints`` order."""
        results = self.runner.inference(images=[str(p) for p in frames.image_paths])
        return self._to_array(results, frames.keypoints)

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Predict ``(H, W, 3)`` uint8 RGB arrays; columns in the model's bodypart order."""
        return self._to_array(self.runner.inference(images=list(images)), self.bodyparts)

    def predict_video(self, video: Path, keypoints: Sequence[str]) -> Iterator[np.ndarray]:
        """Every frame of ``video`` through DeepLabCut's own video reader (``VideoIterator``)
        and inference runner, as its ``video_inference`` (the core of ``analyze_videos``)
        does, but ``VIDEO_CHUNK`` frames at a time and on one thread.

        On the 2330-frame open-field mouse video (CPU), ``video_inference`` (whole video,
        the runner's threaded pipeline) peaked at 11.6 GB resident, against 1.4 GB on the
        first 200 frames; these chunks on one thread peaked at 1.4 GB over all 2330 frames
        with identical predictions. The cause inside DeepLabCut was not found.

        Yields:
            ``(m, k, 3)`` blocks of consecutive frames from frame 0.
        """
        from deeplabcut.pose_estimation_pytorch.apis.videos import VideoIterator

        self._columns(keypoints)  # a keypoint the model lacks fails before decoding
        self.runner.inference_cfg.multithreading.enabled = False
        chunk: list[np.ndarray] = []
        for frame in VideoIterator(str(video)):
            chunk.append(frame)
            if len(chunk) == VIDEO_CHUNK:
                yield self._to_array(self.runner.inference(images=chunk), keypoints)
                chunk = []
        if chunk:
            yield self._to_array(self.runner.inference(images=chunk), keypoints)

    def _columns(self, keypoints: Sequence[str]) -> list[int]:
        missing = [k for k in keypoints if k not in self.bodyparts]
        if missing:
            raise ValueError(f"the DeepLabCut model has no keypoint {missing[0]!r}")
        return [self.bodyparts.index(k) for k in keypoints]

    def _to_array(self, results: list[dict], keypoints: Sequence[str]) -> np.ndarray:
        cols = self._columns(keypoints)
        out = np.full((len(results), len(keypoints), 3), np.nan)
        for i, result in enumerate(results):
            poses = np.asarray(result["bodyparts"], dtype=np.float64)
            if poses.shape[0] == 0:
                continue
            pose = poses[0, cols]
            # DLC pads absent individuals with -1 in x, y and score.
            pose[pose[:, 2] < 0] = np.nan
            out[i] = pose
        return out


# ----- helpers -----
def pytorch_updates(frames: Dataset, cfg: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The ``pytorch_config.yaml`` changes for adapter options ``cfg``, user updates last."""
    updates: dict[str, Any] = {
        "device": cfg["device"],
        "train_settings.seed": int(seed),
        **SNAPSHOT_SETTINGS,
    }
    for key, path in (
        ("epochs", "train_settings.epochs"),
        ("batch_size", "train_settings.batch_size"),
    ):
        if cfg[key] is not None:
            updates[path] = cfg[key]
    crop = cfg["train_crop"]
    if crop == "none":
        updates["data.train.crop_sampling"] = None
    elif crop != "dlc":
        if crop == "auto":
            crop = auto_crop(frames)
        updates["data.train.crop_sampling.width"] = int(crop[0])
        updates["data.train.crop_sampling.height"] = int(crop[1])
    updates.update(cfg["pytorch_cfg_updates"])
    return updates


def hflip_setting(hflip: Any, skeleton: Skeleton) -> tuple[Any, str]:
    """DLC's ``data.train.hflip`` made safe, and the notes' ``mirroring`` line.

    DLC's single-animal configs do not flip (``aug_default.yaml`` has no ``hflip``). When a
    user turns it on (``pytorch_cfg_updates``), DLC would mirror with the ``symmetries`` it
    is given, or with none (swapping nothing): the harness gives its own pairs instead, with
    the user's probability, or turns it off when nothing may mirror.
    """
    if not hflip:
        return hflip, "off: DeepLabCut's hflip is off"
    prob = 0.5  # DLC's default
    if isinstance(hflip, float):
        prob = hflip
    elif isinstance(hflip, Mapping) and "p" in hflip:
        prob = float(hflip["p"])
    mirror = skeleton.mirroring()
    if not mirror.on:
        return False, mirror.note(skeleton.keypoints)
    return {"p": prob, "symmetries": [list(p) for p in mirror.pairs]}, mirror.note(
        skeleton.keypoints
    )


def random_init(model_cfg: Mapping[str, Any], folder: Path, seed: int) -> Path:
    """Save a randomly initialised DLC ``PoseModel`` as a DLC snapshot; nothing is downloaded."""
    import torch
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    torch.manual_seed(seed)
    model = PoseModel.build(copy.deepcopy(dict(model_cfg)), pretrained_backbone=False)
    path = Path(folder) / INIT_SNAPSHOT
    torch.save({"model": model.state_dict(), "metadata": {"epoch": 0}}, path)
    return path


def snapshot_file(folder: Path) -> Path:
    """The DLC snapshot (``.pt``) that ``train`` put in a harness snapshot folder."""
    files = sorted(Path(folder).glob("*.pt"))
    if len(files) != 1:
        raise FileNotFoundError(f"{folder} holds {len(files)} DeepLabCut snapshots, not 1")
    return files[0]


def dlc_rows(rel_paths: Sequence[str]) -> list[int]:
    """Row of each image in DLC's merged label table (which ``sort_index()`` orders).

    Args:
        rel_paths: Each frame's path in the project, ``labeled-data/<folder>/<image>``.
    """
    order = sorted(range(len(rel_paths)), key=lambda i: tuple(rel_paths[i].split("/")))
    rows = [0] * len(rel_paths)
    for row, i in enumerate(order):
        rows[i] = row
    return rows


def auto_crop(frames: Dataset) -> list[int]:
    """``train_crop: auto``: DLC's 448 px crop, but no larger than the largest frame."""
    largest = np.array(frames.image_sizes()).max(axis=0)
    return [min(DLC_CROP, int(largest[0])), min(DLC_CROP, int(largest[1]))]


def concat_frames(a: Dataset, b: Dataset) -> Dataset:
    """Frames of ``a`` followed by those of ``b`` (same skeleton)."""
    return dataclasses.replace(
        a,
        frame_ids=a.frame_ids + b.frame_ids,
        image_paths=a.image_paths + b.image_paths,
        points=np.concatenate([a.points, b.points]),
    )


def resolve_pretrained(setting: str | bool, backbone: str) -> tuple[bool, str]:
    """Whether to start from DLC's ImageNet weights, and why (:func:`choose_pretrained`:
    ``auto`` downloads them when the Hugging Face hub answers within a few seconds).

    Args:
        setting: The adapter's ``pretrained`` option.
        backbone: timm model name of the backbone (``model.backbone.model_name``).
    """
    return choose_pretrained(
        "deeplabcut",
        setting,
        "DLC's ImageNet weights",
        cached=lambda: _weights_cached(backbone),
        unreachable=hub_unreachable,
    )


def _weights_cached(model_name: str) -> bool:
    """Whether timm's pretrained weights for ``model_name`` are in the Hugging Face cache."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    try:
        hub_id = timm.models.get_pretrained_cfg(model_name).hf_hub_id
    except (AttributeError, RuntimeError, ValueError):
        return False
    if not hub_id:
        return False
    return any(
        isinstance(try_to_load_from_cache(hub_id, name), str)
        for name in ("model.safetensors", "pytorch_model.bin")
    )


EPOCH_LINE = re.compile(
    r"Epoch (\d+)/(\d+).*?train loss ([0-9.eE+-]+)(?:, valid loss ([0-9.eE+-]+))?"
)


class _BudgetSpent(Exception):
    """Raised from DLC's epoch log line to leave its training loop (the budget is spent)."""


class _EpochHook:
    """Turns each of DLC's epoch log lines into ``end_epoch`` and obeys its answer.

    Args:
        adapter: The adapter whose clock answers.
        model_folder: DLC's ``train`` folder, where its snapshot manager writes.
        prefix: DLC's snapshot file prefix for the pose task (``snapshot``).

    Attributes:
        done: The last epoch DLC finished.
        stopped_at: The snapshot file of the epoch where the budget stopped training.
    """

    def __init__(self, adapter: Adapter, model_folder: Path, prefix: str) -> None:
        self.adapter = adapter
        self.model_folder = Path(model_folder)
        self.prefix = prefix
        self.done = 0
        self.stopped_at: Path | None = None

    def epoch_ended(self, epoch: int, epochs: int, loss: str, val_loss: str | None) -> None:
        """DLC finished ``epoch`` and has already written its snapshot file."""
        self.done = epoch
        answer = self.adapter.end_epoch(epoch, epochs, loss=loss, val_loss=val_loss)
        if answer.snapshot is None and not answer.stop:
            return
        written = self.written(epoch)
        if answer.snapshot is not None:
            link_or_copy(written, Path(answer.snapshot) / written.name)
        if answer.stop:
            self.stopped_at = written
            raise _BudgetSpent

    def written(self, epoch: int) -> Path:
        """The snapshot file DLC wrote for ``epoch`` (regular or "best")."""
        from deeplabcut.pose_estimation_pytorch.data.snapshots import list_snapshots

        found = [
            s.path for s in list_snapshots(self.model_folder, self.prefix) if s.epochs == epoch
        ]
        if not found:
            raise RuntimeError(
                f"DeepLabCut wrote no snapshot for epoch {epoch} in {self.model_folder} "
                "(pytorch_cfg_updates must keep runner.snapshots.save_epochs at 1)"
            )
        return Path(found[0])

    @contextlib.contextmanager
    def on_root_logger(self) -> Iterator[None]:
        """Read DLC's ``Epoch e/n ..., train loss x[, valid loss y]`` lines while inside.

        A filter on the root logger, not a handler: ``train_network`` replaces the root
        handlers (``logging.basicConfig(force=True)``, then removes them all) but leaves
        filters alone. The caller's root handlers and level are restored on exit.
        """

        def read(record: logging.LogRecord) -> bool:
            match = EPOCH_LINE.search(str(record.msg))
            if match:
                epoch, epochs, loss, val_loss = match.groups()
                self.epoch_ended(int(epoch), int(epochs), loss, val_loss)
            return True

        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        root.addFilter(read)
        try:
            yield
        finally:
            root.removeFilter(read)
            for handler in [h for h in root.handlers if h not in handlers]:
                root.removeHandler(handler)
                handler.close()
            for handler in handlers:
                if handler not in root.handlers:
                    root.addHandler(handler)
            root.setLevel(level)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` as ``target`` (a copy across file systems)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
