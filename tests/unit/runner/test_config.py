"""Run config validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark.errors import InputError
from benchmark.runner.config import RunConfig


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_short_forms_and_defaults(tmp_path):
    path = _write(
        tmp_path,
        "datasets: [synthetic-rat, {path: data/proj, optional: true}]\n"
        "adapters: [heatmap, {name: trackrat, label: tr, config: {epochs: 2}}]\n",
    )
    config = RunConfig.load(path)
    assert config.name == "run"
    assert [d.name for d in config.datasets] == ["synthetic-rat", "proj"]
    assert config.datasets[1].path == str((tmp_path / "data/proj").resolve())
    assert config.datasets[1].optional
    assert [a.label for a in config.adapters] == ["heatmap", "tr"]
    assert config.adapters[1].config == {"epochs": 2}
    assert config.seeds == (0,) and config.threads == 2
    assert RunConfig.from_dict(config.to_dict(), path) == config
    assert config.track_videos is False


def test_track_videos_names_datasets(tmp_path):
    path = _write(tmp_path, "datasets: [a, b]\nadapters: [heatmap]\ntrack_videos: [b]\n")
    config = RunConfig.load(path)
    assert config.track_videos == ("b",)
    assert RunConfig.from_dict(config.to_dict(), path) == config


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("datasets: [a]\n", "names no adapters"),
        ("adapters: [heatmap]\n", "names no datasets"),
        ("datasets: [a]\nadapters: [heatmap]\nfolds: 3\n", "unknown key 'folds'"),
        ("datasets: [a]\nadapters: [heatmap, heatmap]\n", "share a label"),
        ("datasets: [a]\nadapters: [{name: heatmap, epochs: 3}]\n", "unknown key 'epochs'"),
        ("datasets: [a\n", "not valid YAML"),
        ("datasets: [a]\nadapters: [heatmap]\ntrack_videos: [b]\n", "'b', which is not a dataset"),
        ("datasets: [a]\nadapters: [heatmap]\ntrack_videos: yes please\n", "track_videos must"),
    ],
)
def test_bad_configs_name_the_file(tmp_path, text, problem):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=problem) as err:
        RunConfig.load(path)
    assert str(path) in str(err.value)


STUDIES = ["label-efficiency.yaml", "transfer.yaml", "tune-trackrat.yaml"]


@pytest.mark.parametrize("name", ["default.yaml", "quick.yaml", "full.yaml", *STUDIES])
def test_shipped_configs_are_valid(name):
    """Every adapter option in configs/ (every sweep point's too) is known to its adapter (a
    typo fails here, not in CI)."""
    from benchmark.paths import code_root
    from benchmark.registry import load_class

    config = RunConfig.load(code_root() / "configs" / name)
    for spec in config.adapters:
        for point in spec.points():
            load_class(point.name).resolve_config(point.config)
    names = {d.name for d in config.datasets}
    if name == "default.yaml":  # make bench: the real mouse, with the longest budget
        assert names == {"dlc-openfield-mouse"} and config.budget.train_s >= 600
    elif name not in STUDIES:  # the quick look and the GPU config: every carried dataset
        assert {"dlc-openfield-mouse", "synthetic-rat", "synthetic-rabbit"} <= names


def test_budget_and_a_datasets_own_split(tmp_path):
    path = _write(
        tmp_path,
        "datasets: [synthetic-rat, {name: mouse, path: m, split: {folds: 3, seed: 1}}]\n"
        "adapters: [heatmap]\nbudget: {train_s: 120}\n",
    )
    config = RunConfig.load(path)
    assert config.budget.train_s == 120.0
    assert config.datasets[0].split is None
    assert config.datasets[1].split.folds == 3 and config.datasets[1].split.seed == 1
    assert RunConfig.from_dict(config.to_dict(), path) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budget: {train_s: 0}", "budget: train_s must be a number > 0 or null, not 0"),
        ("budget: {seconds: 10}", "budget: unknown key 'seconds'"),
        ("datasets: [{name: a, split: {fold: 3}}]", "dataset 'a': split: unknown key 'fold'"),
        ("datasets: [{name: a, split: {folds: 1}}]", "dataset 'a': split: folds must be"),
    ],
)
def test_bad_budget_or_dataset_split_names_the_key(tmp_path, text, message):
    base = {"datasets": "datasets: [a]", "adapters": "adapters: [heatmap]"}
    key = text.split(":")[0]
    lines = [text if k == key else v for k, v in base.items()]
    if key not in base:
        lines.append(text)
    with pytest.raises(InputError, match=message):
        RunConfig.load(_write(tmp_path, "\n".join(lines) + "\n"))


def test_a_datasets_flip_pairs_round_trip_and_are_left_out_when_not_given(tmp_path):
    path = _write(
        tmp_path,
        "datasets: [{name: mouse, path: m, flip_pairs: [[eyeA, eyeB], [pawA, pawB]]},\n"
        "  {name: fly, path: f, flip_pairs: []}, synthetic-rat]\nadapters: [heatmap]\n",
    )
    config = RunConfig.load(path)
    assert config.datasets[0].flip_pairs == (("eyeA", "eyeB"), ("pawA", "pawB"))
    assert config.datasets[1].flip_pairs == ()
    assert config.datasets[2].flip_pairs is None
    plain = config.to_dict()["datasets"]
    assert plain[0]["flip_pairs"] == [["eyeA", "eyeB"], ["pawA", "pawB"]]
    assert "flip_pairs" not in plain[2]  # as in runs made before the key
    assert RunConfig.from_dict(config.to_dict(), path) == config


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ("[[a, a]]", "dataset 'd': flip_pairs: left/right pair pairs keypoint 'a' with itself"),
        ("[[a, b], [c, a]]", "dataset 'd': flip_pairs: keypoint 'a' is in two left/right pairs"),
        ("[[a, b, c]]", "dataset 'd': flip_pairs must be a list of \\[left, right\\] name pairs"),
        ("left_ear", "dataset 'd': flip_pairs must be a list"),
        ("[[a, 3]]", "dataset 'd': flip_pairs: a keypoint name must be non-empty text"),
    ],
)
def test_bad_flip_pairs_name_the_file_and_the_dataset(tmp_path, pairs, message):
    path = _write(tmp_path, f"datasets: [{{name: d, flip_pairs: {pairs}}}]\nadapters: [heatmap]\n")
    with pytest.raises(InputError, match=message) as err:
        RunConfig.load(path)
    assert err.value.path == path


def test_an_executor_entry_round_trips_and_the_cli_kind_overrides_it(tmp_path):
    from benchmark.runner.config import with_executor

    path = _write(
        tmp_path,
        "datasets: [a]\nadapters: [heatmap]\n"
        "executor: {kind: slurm, partition: gpu, gpus_per_job: 1, mem_gb: 16, time_min: 90,\n"
        "           max_parallel: 8, extra: {account: lab}, setup: [module load cuda]}\n",
    )
    config = RunConfig.load(path)
    assert config.executor.kind == "slurm" and config.executor.setup == ("module load cuda",)
    assert RunConfig.from_dict(config.to_dict(), path) == config
    assert with_executor(config, "slurm") == config  # its own options are kept
    local = with_executor(config, "local")
    assert local.executor.kind == "local" and local.executor.partition is None
    slots = _write(
        tmp_path, "datasets: [a]\nadapters: [heatmap]\nthreads: 1\n"
        "executor: {max_parallel: 2, cpu_sets: [[0], [1]]}\n",
    )  # fmt: skip
    assert RunConfig.load(slots).executor.cpu_sets == ((0,), (1,))


@pytest.mark.parametrize(
    ("executor", "message"),
    [
        ("{kind: pbs}", "executor: kind must be one of"),
        ("{max_parallel: 2}", "needs cpu_sets or gpus"),
        ("{max_parallel: 2, cpu_sets: [[0]]}", "cpu_sets has 1 slots but max_parallel is 2"),
        ("{max_parallel: 2, cpu_sets: [[0, 1], [1]]}", "cpu_sets overlap"),
        ("{max_parallel: 2, cpu_sets: [[0], [1]]}", "slot 0 has 1 CPU(s) for 2 threads"),
        ("{partition: gpu}", "'partition' is an option of kind slurm"),
        ("{kind: slurm, cpu_sets: [[0]]}", "'cpu_sets' is an option of kind local"),
        ("{kind: slurm, time_min: 0}", "executor: time_min must be"),
        ("{kind: slurm, max_parallel: 0}", "executor: max_parallel must be"),
        ("{kind: slurm, partiton: gpu}", "did you mean 'partition'"),
    ],
)
def test_bad_executor_entries_name_the_file_and_the_key(tmp_path, executor, message):
    path = _write(tmp_path, f"datasets: [a]\nadapters: [heatmap]\nexecutor: {executor}\n")
    with pytest.raises(InputError) as err:
        RunConfig.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_config_that_is_not_utf8_names_the_file(tmp_path):
    """Before: a UnicodeDecodeError traceback."""
    path = tmp_path / "run.yaml"
    path.write_bytes(b"name: caf\xe9\ndatasets: [a]\nadapters: [heatmap]\n")
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 0xe9 at offset 9\)") as err:
        RunConfig.load(path)
    assert err.value.path == path


def test_a_folder_given_as_the_config_is_called_a_folder(tmp_path):
    """Before: 'run config not found', though it is there."""
    with pytest.raises(InputError, match="is a folder, not a run config file") as err:
        RunConfig.load(tmp_path)
    assert err.value.path == tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "datasets: [a]\nadapters: [heatmap]\nbudget: {train_s: 10}\nbudget: {train_s: 20}\n",
            "key 'budget' is given twice (lines 3 and 4)",
        ),
        (
            "datasets: [a]\nadapters: [heatmap]\nbudget:\n  train_s: 10\n  train_s: 20\n",
            "key 'train_s' is given twice (lines 4 and 5)",
        ),
        (
            "datasets: [a]\nadapters:\n  - name: heatmap\n    config: {epochs: 2, epochs: 3}\n",
            "key 'epochs' is given twice on line 4",
        ),
    ],
)
def test_a_key_given_twice_is_refused_with_its_lines(tmp_path, text, message):
    """Before: YAML kept the last value silently."""
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        RunConfig.load(path)
    assert err.value.path == path


def test_a_merge_key_may_be_overridden(tmp_path):
    """YAML's merge key (<<) is no duplicate: a key beside it overrides the merged one."""
    path = _write(
        tmp_path,
        "datasets: [a]\nadapters:\n  - {name: heatmap, config: &base {epochs: 2, filters: 8}}\n"
        "  - {name: heatmap, label: more, config: {<<: *base, epochs: 5}}\n",
    )
    config = RunConfig.load(path)
    assert config.adapters[1].config == {"epochs": 5, "filters": 8}


@pytest.mark.parametrize("value", ["10", [10], [10, 80], [0, 0.8], [True, 0.8]])
def test_a_bad_target_pck_names_the_file(tmp_path, value):
    path = tmp_path / "bad.yaml"
    path.write_text(f"datasets: [synthetic-rat]\nadapters: [heatmap]\ntarget_pck: {value!r}\n")
    with pytest.raises(InputError, match=r"bad\.yaml: target_pck must be \[T, share\]"):
        RunConfig.load(path)


def test_target_pck_defaults_to_pck10_of_80_percent_and_round_trips(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("datasets: [synthetic-rat]\nadapters: [heatmap]\n")
    assert RunConfig.load(path).target_pck == (10.0, 0.8)
    path.write_text("datasets: [synthetic-rat]\nadapters: [heatmap]\ntarget_pck: [5, 0.5]\n")
    config = RunConfig.load(path)
    assert config.target_pck == (5.0, 0.5) and config.to_dict()["target_pck"] == [5.0, 0.5]


def test_description_is_one_line_and_not_part_of_a_job(tmp_path):
    from benchmark.runner.run import NON_JOB_KEYS

    path = tmp_path / "quick.yaml"
    path.write_text(
        "datasets: [synthetic-rat]\nadapters: [heatmap]\ndescription: '  A quick look.  '\n"
    )
    assert RunConfig.load(path).description == "A quick look."
    assert "description" in NON_JOB_KEYS
    path.write_text("datasets: [synthetic-rat]\nadapters: [heatmap]\ndescription: [a, b]\n")
    with pytest.raises(InputError, match=r"quick\.yaml: description must be one line"):
        RunConfig.load(path)
