"""The run configuration (``kpbench run CONFIG.yaml``), validated in one place."""

from __future__ import annotations

import difflib
import itertools
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from adapters.options import (
    POSITIVE,
    POSITIVE_INT,
    POSITIVE_INT_OR_NULL,
    Number,
    OneOf,
    Rule,
)
from benchmark.errors import InputError, KpbenchError
from benchmark.metrics import DEFAULT_THRESHOLDS
from benchmark.mirroring import pairs_from_names


def _check(where: str, value: Any, rule: Rule) -> None:
    """Raise ValueError naming ``where`` when ``rule`` does not accept ``value``."""
    problem = rule.problem(value)
    if problem is not None:
        raise ValueError(f"{where} {problem}, not {value!r}")


def _check_text(where: str, value: Any, *, nullable: bool = False) -> None:
    if not (isinstance(value, str) and value) and not (nullable and value is None):
        raise ValueError(f"{where} must be non-empty text, not {value!r}")


_BOOL = OneOf((True, False))


def _default(f: Any) -> Any:
    """A dataclass field's default value."""
    return f.default_factory() if f.default_factory is not MISSING else f.default


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a run: a registry name, or a path to a readable dataset.

    Attributes:
        name: Name used in results (the registry name, or given for a path).
        path: A DeepLabCut project, SLEAP file or COCO json; None for a registry dataset.
        optional: When the dataset cannot be had (not fetchable, no mirror), skip it with a
            note instead of failing the run.
        split: This dataset's split, instead of the run's (e.g. k folds on the real data
            only); every adapter still gets exactly the same one.
        flip_pairs: Left/right keypoint pairs (names) swapped when a frame is mirrored,
            instead of the file's or the name rule's (:mod:`benchmark.mirroring`); ``[]``
            means never mirror. Checked against the keypoints when the dataset is read.
    """

    name: str
    path: str | None = None
    optional: bool = False
    split: SplitSpec | None = None
    flip_pairs: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        _check_text("a dataset's name", self.name)
        _check_text(f"dataset {self.name!r}: path", self.path, nullable=True)
        _check(f"dataset {self.name!r}: optional", self.optional, _BOOL)
        if self.flip_pairs is not None:
            where = f"dataset {self.name!r}: flip_pairs"
            pairs = self.flip_pairs
            if not isinstance(pairs, list | tuple) or not all(
                isinstance(p, list | tuple) and len(p) == 2 for p in pairs
            ):
                raise ValueError(
                    f"{where} must be a list of [left, right] name pairs, not {pairs!r}"
                )
            for name in (n for p in pairs for n in p):
                _check_text(f"{where}: a keypoint name", name)
            try:  # pairs of themselves, keypoints in two pairs; names are checked on reading
                pairs_from_names(pairs, sorted({n for p in pairs for n in p}))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            object.__setattr__(self, "flip_pairs", tuple((a, b) for a, b in pairs))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML/JSON (without ``flip_pairs`` when not given, as runs made
        before the key)."""
        data = asdict(self)
        if self.flip_pairs is None:
            del data["flip_pairs"]
        else:
            data["flip_pairs"] = [list(p) for p in self.flip_pairs]
        return data


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter of a run.

    Attributes:
        name: Registered adapter name.
        label: Name in results (defaults to ``name``; lets one adapter run with two configs).
        config: Adapter options (checked by the adapter's ``resolve_config``).
        python: Interpreter to run this adapter's worker in (default: the runner's).
        timeout_s: Wall-clock limit of one job.
        optional: When the adapter cannot run here (framework missing), skip it with a note.
        sweep: Options to sweep, each with its values (``{filters: [16, 32]}``): a grid, each
            point a labelled configuration ``<label>@filters=16,...``.
        select_by: ``validation``: nested cross-validation. Each outer fold picks the point
            with the lowest ranking error on ``inner_folds`` folds of its own training
            frames (the split's ``inner_folds``), trains it on the fold's training frames
            and is tested on the fold's test frames, under ``label``. None: every point is
            tested as its own adapter.
    """

    name: str
    label: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    python: str | None = None
    timeout_s: float = 3600.0
    optional: bool = False
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    select_by: str | None = None

    def __post_init__(self) -> None:
        _check_text("an adapter's name", self.name)
        if not self.label:
            object.__setattr__(self, "label", self.name)
        where = f"adapter {self.label!r}:"
        _check_text(f"{where} label", self.label)
        if not isinstance(self.config, dict):
            raise ValueError(f"{where} config must be a mapping of options, not {self.config!r}")
        _check_text(f"{where} python", self.python, nullable=True)
        _check(f"{where} timeout_s", self.timeout_s, POSITIVE)
        object.__setattr__(self, "timeout_s", float(self.timeout_s))
        _check(f"{where} optional", self.optional, _BOOL)
        if not isinstance(self.sweep, dict):
            raise ValueError(f"{where} sweep must map options to lists of values")
        for option, values in self.sweep.items():
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"{where} sweep over {option!r} needs a non-empty list of values, "
                    f"not {values!r}"
                )
            if option in self.config:
                raise ValueError(f"{where} {option!r} is both in config and swept")
        _check(f"{where} select_by", self.select_by, OneOf(("validation", None)))
        if self.select_by is not None and not self.sweep:
            raise ValueError(f"{where} select_by needs a sweep to select from")

    def points(self) -> list[AdapterSpec]:
        """The sweep's grid, one plain adapter per point (``label@a=1,b=2``); the adapter
        itself when it sweeps nothing."""
        if not self.sweep:
            return [self]
        names = list(self.sweep)
        grid = itertools.product(*(self.sweep[n] for n in names))
        return [
            replace(
                self,
                label=f"{self.label}@"
                + ",".join(f"{n}={v}" for n, v in zip(names, values, strict=True)),
                config={**self.config, **dict(zip(names, values, strict=True))},
                sweep={},
                select_by=None,
            )
            for values in grid
        ]


@dataclass(frozen=True)
class SplitSpec:
    """How the harness splits every dataset (once; every adapter gets exactly it).

    ``inner_folds`` is used only by adapters with ``select_by``: that many folds of each
    fold's training frames, for choosing a sweep point without the fold's test frames.
    """

    test_fraction: float = 0.2
    val_fraction: float = 0.0
    seed: int = 0
    folds: int | None = None
    inner_folds: int = 3

    def __post_init__(self) -> None:
        _check("split: test_fraction", self.test_fraction, Number(above=0, below=1))
        _check("split: val_fraction", self.val_fraction, Number(min=0, below=1))
        _check("split: seed", self.seed, Number(integer=True, min=0))
        _check("split: folds", self.folds, Number(integer=True, min=2, nullable=True))
        _check("split: inner_folds", self.inner_folds, Number(integer=True, min=2))


@dataclass(frozen=True)
class BudgetSpec:
    """The training budget every job of the run gets (``budget: {train_s: 300}``).

    Attributes:
        train_s: Seconds of training (the harness's clock, at the run's thread count);
            a job whose training reaches it stops at its next epoch boundary, keeps its
            latest weights and is done, "stopped by budget". None: each adapter's schedule
            decides alone.
    """

    train_s: float | None = None

    def __post_init__(self) -> None:
        _check("budget: train_s", self.train_s, Number(above=0, nullable=True))
        if self.train_s is not None:
            object.__setattr__(self, "train_s", float(self.train_s))


@dataclass(frozen=True)
class TransferSpec:
    """A cross-dataset test (``transfer: [{train: A, test: B, keypoints: {...}}]``): every
    model trained on ``train`` also predicts ``test``'s test frames.

    Attributes:
        train: The dataset the models were trained on (a dataset of the run).
        test: The dataset they are tested on (a dataset of the run; its test frames).
        keypoints: ``train`` keypoint -> ``test`` keypoint it stands for. Keypoints of
            either dataset without a partner are left out of the scores (the report lists
            them).
    """

    train: str
    test: str
    keypoints: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_text("transfer: train", self.train)
        _check_text("transfer: test", self.test)
        where = f"transfer {self.train} -> {self.test}:"
        if self.train == self.test:
            raise ValueError(f"{where} train and test are the same dataset")
        if not isinstance(self.keypoints, dict) or not self.keypoints:
            raise ValueError(f"{where} keypoints must map train keypoints to test keypoints")
        for a, b in self.keypoints.items():
            _check_text(f"{where} keypoint", a)
            _check_text(f"{where} partner of {a!r}", b)
        partners = list(self.keypoints.values())
        if len(set(partners)) != len(partners):
            raise ValueError(f"{where} two keypoints map to the same test keypoint")

    @property
    def label(self) -> str:
        """``A -> B``."""
        return f"{self.train} -> {self.test}"


#: Executor options that only one kind of executor takes.
LOCAL_ONLY = ("cpu_sets", "gpus")
SLURM_ONLY = (
    "partition",
    "gpus_per_job",
    "cpus_per_job",
    "mem_gb",
    "time_min",
    "extra",
    "setup",
    "poll_s",
)


@dataclass(frozen=True)
class ExecutorSpec:
    """Where each job's worker command runs (``executor: {kind: slurm, ...}``).

    The executor changes no job: a run can be resumed under another one.

    Attributes:
        kind: ``local`` (this machine, the default) or ``slurm`` (through submitit).
        max_parallel: Jobs at once. Locally above 1 only with ``cpu_sets`` or ``gpus``: two
            trainings sharing the same cores are each many times slower.
        cpu_sets: Local: per slot, the CPU numbers its jobs are pinned to (disjoint).
        gpus: Local: per slot, the GPU its jobs see (``CUDA_VISIBLE_DEVICES``).
        partition: Slurm partition (default: the cluster's default).
        gpus_per_job: Slurm: GPUs per job.
        cpus_per_job: Slurm: CPUs per job (default: the run's ``threads``).
        mem_gb: Slurm: memory per job in GB (default: the partition's default).
        time_min: Slurm: time limit per job in minutes (default: the adapter's
            ``timeout_s`` plus 5 minutes).
        extra: Slurm: further sbatch options, e.g. ``{account: lab, qos: high}``.
        setup: Slurm: shell lines run in each job first (``module load cuda``).
        poll_s: Slurm: seconds between two status queries (``sacct``).
    """

    kind: str = "local"
    max_parallel: int = 1
    cpu_sets: tuple[tuple[int, ...], ...] | None = None
    gpus: tuple[str, ...] | None = None
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    time_min: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    setup: tuple[str, ...] = ()
    poll_s: float = 5.0

    def __post_init__(self) -> None:
        _check("executor: kind", self.kind, OneOf(("local", "slurm")))
        _check("executor: max_parallel", self.max_parallel, POSITIVE_INT)
        given = {f.name for f in fields(self) if getattr(self, f.name) != _default(f)}
        wrong = sorted(given & set(SLURM_ONLY if self.kind == "local" else LOCAL_ONLY))
        if wrong:
            other = "slurm" if self.kind == "local" else "local"
            raise ValueError(
                f"executor: {wrong[0]!r} is an option of kind {other}, not of kind {self.kind}"
            )
        if self.kind == "local":
            self._check_slots()
        else:
            _check_text("executor: partition", self.partition, nullable=True)
            _check("executor: gpus_per_job", self.gpus_per_job, Number(integer=True, min=0))
            _check("executor: cpus_per_job", self.cpus_per_job, POSITIVE_INT_OR_NULL)
            _check("executor: mem_gb", self.mem_gb, Number(above=0, nullable=True))
            _check("executor: time_min", self.time_min, POSITIVE_INT_OR_NULL)
            _check("executor: poll_s", self.poll_s, POSITIVE)
            if not isinstance(self.extra, dict):
                raise ValueError(f"executor: extra must be a mapping, not {self.extra!r}")
            if not all(isinstance(line, str) for line in self.setup):
                raise ValueError(f"executor: setup must be a list of lines, not {self.setup!r}")
            object.__setattr__(self, "setup", tuple(self.setup))

    def _check_slots(self) -> None:
        if self.cpu_sets is not None:
            sets = tuple(tuple(c) for c in self.cpu_sets)
            for cpus in sets:
                if not cpus or not all(isinstance(c, int) and c >= 0 for c in cpus):
                    raise ValueError(
                        f"executor: cpu_sets must be lists of CPU numbers, not {list(cpus)!r}"
                    )
            flat = [c for cpus in sets for c in cpus]
            if len(set(flat)) != len(flat):
                raise ValueError("executor: cpu_sets overlap; each slot needs CPUs of its own")
            object.__setattr__(self, "cpu_sets", sets)
        if self.gpus is not None:
            object.__setattr__(self, "gpus", tuple(str(g) for g in self.gpus))
        for name in LOCAL_ONLY:
            slots = getattr(self, name)
            if slots is not None and len(slots) != self.max_parallel:
                raise ValueError(
                    f"executor: {name} has {len(slots)} slots but max_parallel is "
                    f"{self.max_parallel}; give one per parallel job"
                )
        if self.max_parallel > 1 and self.cpu_sets is None and self.gpus is None:
            raise ValueError(
                f"executor: max_parallel {self.max_parallel} on this machine needs cpu_sets "
                "or gpus (one slot per parallel job): jobs sharing the same cores are each "
                "many times slower, which would distort every timing"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML/JSON."""
        data = asdict(self)
        if self.cpu_sets is not None:
            data["cpu_sets"] = [list(c) for c in self.cpu_sets]
        if self.gpus is not None:
            data["gpus"] = list(self.gpus)
        data["setup"] = list(self.setup)
        return data


@dataclass(frozen=True)
class RunConfig:
    """Everything ``kpbench run`` needs; stored resolved in the run directory.

    Attributes:
        name: Run name (report file name).
        datasets: Datasets to benchmark on.
        adapters: Adapters to train and evaluate.
        split: The split every adapter gets.
        seeds: Training seeds; each is its own job.
        threads: Torch/BLAS threads per job.
        thresholds: PCK thresholds in pixels.
        budget: The training budget, the same for every adapter.
        overlay_frames: Test frames drawn per dataset in the report's overlay grid.
        track_videos: After training, run ``kpbench track`` for every adapter on each
            dataset's videos (``<dataset>/videos/*.mp4|avi``): true for every dataset, or a
            list of dataset names.
        executor: Where the jobs run (this machine, or a Slurm cluster).
        train_sizes: Label efficiency: training-set sizes, counts (``10``) or fractions of
            the fold's training frames (``0.5``); each size is its own job on a nested,
            seeded subset (recorded in the split file), tested on the same test frames.
            The full training set is always run too. None: full training sets only.
        transfer: Cross-dataset tests of the trained models (see :class:`TransferSpec`).
        description: One line the report prints under its title: what the run shows (e.g.
            "a quick look: how fast each framework starts learning"). Not part of a job.
        target_pck: The common target of the report's time-to-accuracy table: ``[T, share]``,
            PCK at T px reaching that share (T should be one of ``thresholds``).
    """

    name: str
    datasets: tuple[DatasetSpec, ...]
    adapters: tuple[AdapterSpec, ...]
    split: SplitSpec = SplitSpec()
    seeds: tuple[int, ...] = (0,)
    threads: int = 2
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    budget: BudgetSpec = BudgetSpec()
    overlay_frames: int = 6
    track_videos: bool | tuple[str, ...] = False
    executor: ExecutorSpec = ExecutorSpec()
    train_sizes: tuple[int | float, ...] | None = None
    transfer: tuple[TransferSpec, ...] = ()
    target_pck: tuple[float, float] = (10.0, 0.8)
    description: str = ""

    def __post_init__(self) -> None:
        _check_text("name", self.name)
        if not isinstance(self.description, str) or "\n" in self.description.strip():
            raise ValueError(f"description must be one line of text, not {self.description!r}")
        object.__setattr__(self, "description", self.description.strip())
        target = self.target_pck
        if (
            not isinstance(target, tuple | list)
            or len(target) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in target)
            or not (target[0] > 0 and 0 < target[1] <= 1)
        ):
            raise ValueError(
                "target_pck must be [T, share]: a threshold in px above 0 and a share in "
                f"(0, 1], not {target!r}"
            )
        object.__setattr__(self, "target_pck", (float(target[0]), float(target[1])))
        for size in self.train_sizes or ():
            if isinstance(size, bool) or not isinstance(size, int | float):
                raise ValueError(f"train_sizes must be counts or fractions, not {size!r}")
            if (isinstance(size, int) and size < 1) or (
                isinstance(size, float) and not 0 < size <= 1
            ):
                raise ValueError(
                    "train_sizes must be frame counts (at least 1) or fractions in (0, 1], "
                    f"not {size!r}"
                )
        for seed in self.seeds:
            _check("seeds", seed, Number(integer=True, min=0))
        _check("threads", self.threads, POSITIVE_INT)
        for threshold in self.thresholds:
            _check("thresholds", threshold, POSITIVE)
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        _check("overlay_frames", self.overlay_frames, Number(integer=True, min=0))
        budget = self.budget.train_s
        for spec in self.adapters:
            if budget is not None and spec.timeout_s <= budget:
                raise ValueError(
                    f"adapter {spec.label!r}: timeout_s ({spec.timeout_s:g} s) must exceed "
                    f"the training budget ({budget:g} s), with room for setup and prediction"
                )
        for i, cpus in enumerate(self.executor.cpu_sets or ()):
            if len(cpus) < self.threads:
                raise ValueError(
                    f"executor: cpu_sets slot {i} has {len(cpus)} CPU(s) for {self.threads} "
                    "threads per job; give each slot at least 'threads' CPUs"
                )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML/JSON."""
        data = asdict(self)
        data["datasets"] = [d.to_dict() for d in self.datasets]
        data["adapters"] = [asdict(a) for a in self.adapters]
        data["seeds"] = list(self.seeds)
        data["thresholds"] = list(self.thresholds)
        if not isinstance(self.track_videos, bool):
            data["track_videos"] = list(self.track_videos)
        data["executor"] = self.executor.to_dict()
        data["target_pck"] = list(self.target_pck)
        if self.train_sizes is None:
            del data["train_sizes"]  # the same resolved config as runs from before the key
        else:
            data["train_sizes"] = list(self.train_sizes)
        if self.transfer:
            data["transfer"] = [asdict(t) for t in self.transfer]
        else:
            del data["transfer"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path) -> RunConfig:
        """Validate plain data (from YAML) into a config; errors name ``source``."""
        if not isinstance(data, dict):
            raise InputError(source, "a run config must be a YAML mapping")
        known = {
            "name",
            "datasets",
            "adapters",
            "split",
            "seeds",
            "threads",
            "thresholds",
            "budget",
            "overlay_frames",
            "track_videos",
            "executor",
            "train_sizes",
            "transfer",
            "target_pck",
            "description",
        }
        try:
            _check_keys(data, known, "run config")
            datasets = tuple(_dataset_spec(d) for d in data.get("datasets") or [])
            adapters = tuple(_adapter_spec(a) for a in data.get("adapters") or [])
            split = SplitSpec(**_entry(SplitSpec, data.get("split") or {}, "split"))
            budget = BudgetSpec(**_entry(BudgetSpec, data.get("budget") or {}, "budget"))
            executor = _executor_spec(data.get("executor") or {})
            config = cls(
                name=str(data.get("name") or source.stem),
                datasets=datasets,
                adapters=adapters,
                split=split,
                seeds=_list(data, "seeds", [0]),
                threads=data.get("threads", 2),
                thresholds=_list(data, "thresholds", list(DEFAULT_THRESHOLDS)),
                budget=budget,
                overlay_frames=data.get("overlay_frames", 6),
                track_videos=_track_videos(data.get("track_videos", False)),
                executor=executor,
                train_sizes=_list(data, "train_sizes", []) if "train_sizes" in data else None,
                transfer=_transfers(data),
                target_pck=data.get("target_pck", (10.0, 0.8)),
                description=data.get("description") or "",
            )
        except ValueError as exc:
            raise InputError(source, str(exc)) from None
        if not config.datasets:
            raise InputError(source, "the run config names no datasets")
        if not config.adapters:
            raise InputError(source, "the run config names no adapters")
        labels = [a.label for a in config.adapters]
        if len(set(labels)) != len(labels):
            raise InputError(source, "two adapters share a label; give one a distinct 'label'")
        names = [d.name for d in config.datasets]
        if len(set(names)) != len(names):
            raise InputError(source, "two datasets share a name; give one a distinct 'name'")
        if not isinstance(config.track_videos, bool):
            unknown = [n for n in config.track_videos if n not in names]
            if unknown:
                raise InputError(
                    source, f"track_videos names {unknown[0]!r}, which is not a dataset of the run"
                )
        for spec in config.transfer:
            for name in (spec.train, spec.test):
                if name not in names:
                    raise InputError(
                        source,
                        f"transfer {spec.label} names {name!r}, which is not a dataset of the run",
                    )
        return config

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read and validate a run config YAML file."""
        path = Path(path)
        if path.is_dir():
            raise InputError(path, "is a folder, not a run config file")
        if not path.is_file():
            raise InputError(path, "run config not found")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            byte = exc.object[exc.start]
            raise InputError(
                path, f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8"
            ) from None
        except OSError as exc:
            raise InputError(path, f"cannot read it ({exc.strerror or exc})") from None
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
        except _DuplicateKeyError as exc:
            raise InputError(path, str(exc)) from None
        except yaml.YAMLError as exc:
            raise InputError(path, f"not valid YAML ({exc.__class__.__name__})") from None
        config = cls.from_dict(data, path)
        # Dataset paths in a config are relative to the config file.
        datasets = tuple(
            replace(d, path=str((path.parent / d.path).resolve())) if d.path else d
            for d in config.datasets
        )
        config = RunConfig(**{**config.__dict__, "datasets": datasets})
        check_adapters(config, path)
        return config


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping of a YAML file gives one key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping, at any depth
    (``yaml.safe_load`` keeps the last value silently). A key beside a merge key (``<<``)
    overrides the merged one, as YAML says, and is no duplicate."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of ``node``, after checking that no key comes twice.

        Raises:
            _DuplicateKeyError: Naming the key and its lines (1-based).
        """
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = lines.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                where = f"on line {line}" if first == line else f"(lines {first} and {line})"
                raise _DuplicateKeyError(f"key {key!r} is given twice {where}")
            lines[key] = line
        return super().construct_mapping(node, deep=deep)


def check_adapters(config: RunConfig, source: Path | None = None) -> None:
    """Every adapter of ``config`` is registered and accepts its options.

    Raises:
        KpbenchError: An unknown adapter or a bad option (an ``InputError`` naming
            ``source`` when given).
    """
    from benchmark.registry import load_class

    for spec in config.adapters:
        try:
            for point in spec.points():
                load_class(spec.name).resolve_config(point.config)
        except KpbenchError as exc:
            if source is None:
                raise
            raise InputError(source, str(exc)) from None


def _list(data: dict[str, Any], key: str, default: list[Any]) -> tuple[Any, ...]:
    value = data.get(key, default)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a non-empty list, not {value!r}")
    return tuple(value)


def _dataset_spec(entry: Any) -> DatasetSpec:
    if isinstance(entry, str):
        return DatasetSpec(name=entry)
    if not isinstance(entry, dict):
        raise ValueError(f"dataset entry {entry!r} must be a name or a mapping")
    if "path" in entry and "name" not in entry:
        entry = {**entry, "name": Path(entry["path"]).stem}
    where = f"dataset {entry['name']!r}" if "name" in entry else "a dataset entry"
    entry = dict(_entry(DatasetSpec, entry, where))
    if entry.get("split") is not None:
        try:
            entry["split"] = SplitSpec(**_entry(SplitSpec, entry["split"], f"{where}: split"))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return DatasetSpec(**entry)


def _executor_spec(entry: Any) -> ExecutorSpec:
    entry = dict(_entry(ExecutorSpec, entry, "executor"))
    for key in ("cpu_sets", "gpus", "setup"):
        value = entry.get(key)
        if value is not None and not isinstance(value, list):
            raise ValueError(f"executor: {key} must be a list, not {value!r}")
    if entry.get("cpu_sets") is not None:
        for cpus in entry["cpu_sets"]:
            if not isinstance(cpus, list):
                raise ValueError(f"executor: each of cpu_sets must be a list, not {cpus!r}")
        entry["cpu_sets"] = tuple(tuple(c) for c in entry["cpu_sets"])
    for key in ("gpus", "setup"):
        if entry.get(key) is not None:
            entry[key] = tuple(entry[key])
    return ExecutorSpec(**entry)


def with_executor(config: RunConfig, kind: str) -> RunConfig:
    """``config`` run by the executor ``kind`` (``kpbench run --executor``): the config's own
    executor options are kept when they are of that kind."""
    if config.executor.kind == kind:
        return config
    return replace(config, executor=ExecutorSpec(kind=kind))


def _transfers(data: dict[str, Any]) -> tuple[TransferSpec, ...]:
    if "transfer" not in data:
        return ()
    return tuple(
        TransferSpec(**_entry(TransferSpec, t, "transfer")) for t in _list(data, "transfer", [])
    )


def _track_videos(value: Any) -> bool | tuple[str, ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"track_videos must be true, false or a list of dataset names, not {value!r}")


def _adapter_spec(entry: Any) -> AdapterSpec:
    if isinstance(entry, str):
        return AdapterSpec(name=entry)
    if not isinstance(entry, dict):
        raise ValueError(f"adapter entry {entry!r} must be a name or a mapping")
    where = f"adapter {entry['name']!r}" if "name" in entry else "an adapter entry"
    note = " (the adapter's own options go under 'config')"
    return AdapterSpec(**_entry(AdapterSpec, entry, where, note))


def _check_keys(
    entry: dict[str, Any], known: set[str] | list[str], where: str, note: str = ""
) -> None:
    """Unknown keys are an error with a did-you-mean suggestion (and ``note``)."""
    for key in entry:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{where}: unknown key {key!r}{hint}; known: {', '.join(sorted(known))}{note}"
            )


def _entry(cls: type, entry: Any, where: str, note: str = "") -> dict[str, Any]:
    """``entry`` checked against the fields of dataclass ``cls`` (a mapping, known keys)."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be a mapping, not {entry!r}")
    _check_keys(entry, [f.name for f in fields(cls)], where, note)
    return entry
