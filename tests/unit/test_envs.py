"""Adapter environments: build with uv, hash of what was built, rebuild, no half-built leftovers.

The tiny environment holds one small pure-Python package (``six``); the runner tests add the
few light packages kpbench's worker needs (numpy 1.26, pandas, pyyaml, pillow). They come from
the package registry or uv's cache.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmark import envs
from benchmark.envs import EnvBuildError, EnvSpec
from benchmark.io.dlc import write_dlc_project
from benchmark.registry import load_class
from benchmark.runner.config import AdapterSpec, DatasetSpec, RunConfig
from benchmark.runner.run import run
from tests.fixtures import make_blob_dataset


@pytest.fixture(autouse=True)
def envs_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every environment of a test goes under its own temporary folder."""
    monkeypatch.setenv("KPBENCH_ENVS", str(tmp_path / "envs"))
    return tmp_path / "envs"


def _spec(tmp_path: Path, lock_text: str = "six==1.16.0\n") -> EnvSpec:
    lock = tmp_path / "requirements.lock"
    lock.write_text(lock_text)
    return EnvSpec("tiny", lock)


def _run(python: Path, code: str) -> str:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


def test_build_hash_covers_lock_and_python(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert spec.build_hash() == _spec(tmp_path).build_hash()
    assert EnvSpec("tiny", spec.lock, python="3.12").build_hash() != spec.build_hash()
    before = spec.build_hash()
    spec.lock.write_text("six==1.17.0\n")
    assert spec.build_hash() != before


def test_locked_version_reads_pins(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "Six==1.16.0 \\\n    # via x\nscikit-learn==1.5.0\n")
    assert spec.locked_version("six") == "1.16.0"
    assert spec.locked_version("scikit_learn") == "1.5.0"
    assert spec.locked_version("numpy") is None


def test_create_builds_outside_the_source_tree_and_records_its_hash(
    tmp_path: Path, envs_home: Path
) -> None:
    spec = _spec(tmp_path)
    assert spec.status() == "missing"
    python = envs.create(spec, quiet=True)
    assert python == envs_home / "tiny" / "bin" / "python"
    assert spec.status() == "built"
    assert spec.record()["hash"] == spec.build_hash()
    assert _run(python, "import six; print(six.__version__)").strip() == "1.16.0"
    # Only the environment and its lock file are left in the environments folder.
    assert sorted(p.name for p in envs_home.iterdir()) == [".tiny.lock", "tiny"]


def test_a_changed_lock_makes_it_stale_and_ensure_rebuilds(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    python = envs.ensure(spec)
    mtime = (spec.path / envs.MARKER).stat().st_mtime_ns
    assert envs.ensure(spec) == python  # up to date: not rebuilt
    assert (spec.path / envs.MARKER).stat().st_mtime_ns == mtime
    spec.lock.write_text("six==1.17.0\n")
    assert spec.status() == "stale"
    envs.ensure(spec)
    assert spec.status() == "built"
    assert _run(python, "import six; print(six.__version__)").strip() == "1.17.0"


def test_a_removed_environment_is_rebuilt(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    envs.ensure(spec)
    envs.remove(spec)
    assert spec.status() == "missing"
    assert envs.ensure(spec).is_file()


def test_a_failed_build_leaves_nothing_and_keeps_the_old_environment(
    tmp_path: Path, envs_home: Path
) -> None:
    spec = _spec(tmp_path)
    envs.ensure(spec)
    spec.lock.write_text("this-package-does-not-exist-kpbench==0.0.1\n")
    with pytest.raises(EnvBuildError, match="building environment 'tiny'"):
        envs.ensure(spec)
    assert spec.status() == "stale"  # the old build is still there, still usable
    assert _run(spec.interpreter, "import six").strip() == ""
    assert not [p for p in envs_home.iterdir() if "building" in p.name]


def test_a_failed_first_build_leaves_no_environment(tmp_path: Path, envs_home: Path) -> None:
    spec = _spec(tmp_path, "this-package-does-not-exist-kpbench==0.0.1\n")
    with pytest.raises(EnvBuildError):
        envs.create(spec, quiet=True)
    assert spec.status() == "missing"
    assert not spec.path.exists()
    assert not [p for p in envs_home.iterdir() if "building" in p.name]


def test_a_missing_lock_file_is_a_clear_error(tmp_path: Path) -> None:
    spec = EnvSpec("tiny", tmp_path / "nope.lock")
    with pytest.raises(EnvBuildError, match=r"nope\.lock: lock file of environment 'tiny'"):
        envs.ensure(spec)


def test_deepposekit_declares_its_environment() -> None:
    spec = envs.find("deepposekit")
    assert spec.name == "deepposekit"
    assert spec.lock.name == "requirements.lock" and spec.lock.is_file()
    assert spec.locked_version("tensorflow") == "2.15.1"
    assert spec.locked_version("numpy").startswith("1.")
    assert "deepposekit" in envs.declared()
    with pytest.raises(envs.KpbenchError, match="main environment"):
        envs.find("heatmap")


def test_yolo_lock_pins_the_main_torch_and_headless_opencv_only() -> None:
    """The yolo environment's lock: the main environment's torch, OpenCV's headless build
    (ultralytics' opencv-python is overridden away: its cv2 needs libGL)."""
    root = Path(envs.__file__).parents[1]
    torch_pin = next(
        line
        for line in (root / "requirements.lock").read_text().splitlines()
        if line.startswith("torch==")
    )
    yolo = EnvSpec("yolo", root / "adapters" / "yolo" / "requirements.lock")
    assert yolo.locked_version("ultralytics") == "8.4.190"
    assert yolo.locked_version("torch") == torch_pin.split("==")[1]
    assert yolo.locked_version("opencv-python-headless") is not None
    assert yolo.locked_version("opencv-python") is None
    spec = envs.find("yolo")
    assert spec.lock == yolo.lock and spec.module == "ultralytics"
    assert "yolo" in envs.declared()


@pytest.mark.parametrize("name", ["deepposekit", "yolo"])
def test_every_adapter_environment_holds_what_kpbench_runs_there(name: str) -> None:
    """The worker and `kpbench track` run in an adapter's environment: their imports must be
    locked there too (a missing imageio once broke `kpbench track` with YOLO)."""
    spec = envs.find(name)
    for dist in ("numpy", "pandas", "pyyaml", "pillow", "imageio", "imageio-ffmpeg", "seaborn",
                 "tqdm"):  # fmt: skip
        assert spec.locked_version(dist) is not None, f"{dist} is not in {spec.lock}"


# ----- through the runner -----
FOREIGN_LOCK = """\
numpy==1.26.4
pandas==2.2.3
python-dateutil==2.9.0.post0
pytz==2024.2
tzdata==2024.2
six==1.16.0
pyyaml==6.0.2
pillow==11.0.0
"""

ADAPTER_MODULE = '''
from tests.adapters_for_tests import MeanPoseAdapter


class ForeignMeanPose(MeanPoseAdapter):
    """The mean-pose test adapter, run in an environment of its own."""

    name = "foreign"
    environment = "{env}"
'''


def _foreign_adapter(folder: Path, env: str, lock_text: str) -> str:
    """Write an adapter module with its own lock file; returns its registry target."""
    folder.mkdir(parents=True)
    (folder / f"{env}_adapter.py").write_text(ADAPTER_MODULE.format(env=env))
    (folder / "requirements.lock").write_text(lock_text)
    return f"{env}_adapter:ForeignMeanPose"


def _run_config(tmp_path: Path, adapters: tuple) -> RunConfig:
    ds = make_blob_dataset(tmp_path / "frames", n_frames=12)
    project = write_dlc_project(ds, tmp_path / "project")
    return RunConfig(
        name="t",
        datasets=(DatasetSpec("blobs", str(project)),),
        adapters=adapters,
        threads=1,
    )


def test_the_runner_starts_the_worker_in_the_adapters_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = tmp_path / "mod"
    target = _foreign_adapter(mod, "numpy1", FOREIGN_LOCK)
    monkeypatch.syspath_prepend(str(mod))
    monkeypatch.setenv("PYTHONPATH", str(mod))  # the worker imports the adapter module too
    config = _run_config(tmp_path, (AdapterSpec(target, label="foreign"),))
    run(config, tmp_path / "run", quiet=True)
    job = json.loads((tmp_path / "run/jobs/blobs__fold0__foreign__seed0/job.json").read_text())
    assert job["status"] == "done", job["stderr_tail"]
    spec = envs.spec_for(load_class(target))
    assert spec is not None
    assert job["environment"]["executable"] == str(spec.interpreter)
    assert spec.status() == "built"
    assert (tmp_path / "run/jobs/blobs__fold0__foreign__seed0/predictions.csv").is_file()


def test_a_broken_environment_fails_its_jobs_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = tmp_path / "mod"
    target = _foreign_adapter(mod, "broken", "this-package-does-not-exist-kpbench==0.0.1\n")
    monkeypatch.syspath_prepend(str(mod))
    config = _run_config(
        tmp_path,
        (
            AdapterSpec(target, label="broken"),
            AdapterSpec("tests.adapters_for_tests:MeanPoseAdapter", label="mean"),
        ),
    )
    metrics = run(config, tmp_path / "run", quiet=True)
    jobs = tmp_path / "run" / "jobs"
    broken = json.loads((jobs / "blobs__fold0__broken__seed0/job.json").read_text())
    assert broken["status"] == "failed"
    assert "building environment 'broken'" in broken["error"]
    assert "this-package-does-not-exist-kpbench" in broken["error"]
    mean = json.loads((jobs / "blobs__fold0__mean__seed0/job.json").read_text())
    assert mean["status"] == "done"
    assert set(metrics["adapter"]) == {"mean"}


def test_another_venv_on_the_same_base_python_is_not_this_interpreter(tmp_path: Path) -> None:
    """Virtual environments link to one base interpreter but hold other packages."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True
    )
    other = tmp_path / "venv" / "bin" / "python"
    assert other.resolve() == Path(sys.executable).resolve()  # the same base python
    assert not envs.is_this_interpreter(other)
    assert envs.is_this_interpreter(sys.executable)


# ----- read-only folders
def test_create_in_a_read_only_folder_is_one_line_naming_it(
    read_only_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Before: a PermissionError (OSError EROFS) traceback."""
    from benchmark.cli import main

    monkeypatch.setenv("KPBENCH_ENVS", str(read_only_dir))
    assert main(["env", "create", "deepposekit"]) == 2
    assert capsys.readouterr().err == (
        f"kpbench: error: {read_only_dir}: cannot write here (Read-only file system); "
        "set KPBENCH_ENVS to a writable folder\n"
    )


def test_list_writes_nothing_so_a_read_only_home_is_fine(
    read_only_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Before: listing created ~/.cache/kpbench/envs: a traceback with a read-only HOME."""
    from benchmark.cli import main

    monkeypatch.setenv("HOME", str(read_only_dir))
    monkeypatch.delenv("KPBENCH_ENVS")
    monkeypatch.delenv("KPBENCH_CACHE", raising=False)
    assert main(["env", "list"]) == 0
    out, err = capsys.readouterr()
    row = next(line for line in out.splitlines() if line.startswith("deepposekit"))
    assert row.split()[1] == "missing"
    assert str(read_only_dir / ".cache/kpbench/envs/deepposekit") in row and err == ""


# ----- remove and list
def test_removing_an_environment_that_is_not_built_says_so(envs_home: Path, capsys) -> None:
    """Before: 'removed PATH' for a folder that never existed."""
    from benchmark.cli import main

    assert main(["env", "remove", "deepposekit"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "kpbench: warning: environment deepposekit is not built "
        f"(nothing at {envs_home / 'deepposekit'})\n"
    )
    assert not envs_home.exists()


def _stamped_venv(spec: EnvSpec) -> None:
    """A real, empty virtual environment where ``spec`` lives, stamped as built from its lock."""
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(spec.path)], check=True)
    (spec.path / envs.MARKER).write_text(json.dumps({"hash": spec.build_hash()}))


def test_a_built_environment_that_cannot_import_its_framework_is_broken(
    tmp_path: Path, capsys
) -> None:
    """Before: 'built' whenever the stamp and the interpreter were there."""
    from benchmark.cli import main

    spec = envs.find("deepposekit")
    assert spec.module == "deepposekit"
    _stamped_venv(spec)
    assert spec.status() == "built"
    problem = "cannot import deepposekit: ModuleNotFoundError: No module named 'deepposekit'"
    assert spec.checked_status() == ("broken", problem)
    assert main(["env", "list"]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("deepposekit"))
    assert row.split()[1] == "broken" and row.endswith(f"{spec.path}  ({problem})")

    fine = EnvSpec("fine", _spec(tmp_path).lock, module="json")  # the standard library's
    _stamped_venv(fine)
    assert fine.checked_status() == ("built", "")
