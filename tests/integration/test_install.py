"""kpbench as an installed tool: the built wheel, installed into a fresh venv, works from any
folder and writes nothing into the source tree.

The venv is made offline: its dependencies come from this interpreter's environment through a
``.pth`` file naming its ``site-packages`` (a ``.pth`` there is not processed then, so the
editable install of the source tree is not seen: ``benchmark`` is the wheel's). The venv sits
inside a git repository of its own, as a project's ``.venv`` does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from benchmark.envs import child_env
from benchmark.io.dlc import write_dlc_project
from benchmark.paths import code_root
from benchmark.runner.provenance import git_commit
from tests.fixtures import make_blob_dataset

pytestmark = pytest.mark.integration

SOURCE = code_root()
#: A run name no one else uses, to look for stray files in the source tree.
NAME = "install-check"


@dataclass(frozen=True)
class Installed:
    """A kpbench wheel installed into a fresh venv."""

    wheel: Path
    venv: Path
    site_packages: Path
    cache: Path
    tmp: Path

    @property
    def kpbench(self) -> Path:
        return self.venv / "bin" / "kpbench"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self) -> dict[str, str]:
        """The environment of a user of the installed tool: no source tree on the path."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {
            **env,
            "KPBENCH_CACHE": str(self.cache),
            "HF_HUB_OFFLINE": "1",
            "WANDB_MODE": "disabled",
            "OMP_NUM_THREADS": "1",
        }

    def run(self, cwd: Path, *argv: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _sh(*argv: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{argv}: {proc.stderr[-2000:]}"
    return proc.stdout


def _build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of the working tree (the build writes ``build/`` and
    ``*.egg-info`` where it runs), offline, with this environment's setuptools."""
    src = out / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SOURCE / name, src / name)
    for name in ("benchmark", "adapters"):
        shutil.copytree(SOURCE / name, src / name, ignore=ignore)
    (src / "datasets").symlink_to("benchmark/datasets/manifests")  # as in the repository
    dist = out / "dist"
    code = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    name = _sh(sys.executable, "-c", code, dist, cwd=src).strip().splitlines()[-1]
    return dist / name


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("install")
    wheel = _build_wheel(tmp)
    project = tmp / "project"
    project.mkdir()
    _sh("git", "init", "-q", cwd=project)
    user = ["-c", "user.name=t", "-c", "user.email=t@t"]
    _sh("git", *user, "commit", "-q", "--allow-empty", "-m", "a user's project", cwd=project)
    venv = project / ".venv"
    _sh(sys.executable, "-m", "venv", venv)
    site_packages = Path(
        _sh(
            venv / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ).strip()
    )
    (site_packages / "kpbench-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _sh(venv / "bin" / "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)
    return Installed(wheel, venv, site_packages, tmp / "cache", tmp)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty working folder outside the source tree."""
    folder = tmp_path / "work"
    folder.mkdir()
    assert SOURCE not in folder.resolve().parents
    return folder


def test_the_wheel_holds_every_package_and_data_file_and_not_the_datasets_link(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    packages = {
        str(p.parent.relative_to(SOURCE))
        for top in ("benchmark", "adapters")
        for p in (SOURCE / top).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert {"benchmark/datasets", "adapters/deepposekit"} <= packages
    for package in packages:
        assert f"{package}/__init__.py" in names
    data = [
        *(SOURCE / "benchmark" / "datasets" / "manifests").glob("*.yaml"),
        *(SOURCE / "benchmark" / "report" / "templates").glob("*.j2"),
        *(SOURCE / "adapters").glob("*/requirements.lock"),
    ]
    assert any(p.name == "requirements.lock" for p in data)
    for path in data:
        assert str(path.relative_to(SOURCE)) in names
    assert not [n for n in names if n.startswith("datasets/")]
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert wheel.read(top_level).decode().split() == ["adapters", "benchmark"]


def test_the_venv_imports_the_installed_wheel_not_the_source_tree(installed, elsewhere):
    code = "import benchmark, adapters, numpy; print(benchmark.__file__, adapters.__file__)"
    proc = installed.run(elsewhere, installed.python, "-c", code)
    assert proc.returncode == 0, proc.stderr
    for file in proc.stdout.split():
        assert Path(file).is_relative_to(installed.site_packages)


def test_installed_kpbench_lists_the_shipped_datasets_from_any_folder(installed, elsewhere):
    proc = installed.run(elsewhere, installed.kpbench, "datasets", "list")
    assert proc.returncode == 0, proc.stderr
    names = {line.split()[0] for line in proc.stdout.splitlines()[1:]}
    shipped = {p.stem for p in (SOURCE / "benchmark" / "datasets" / "manifests").glob("*.yaml")}
    assert names == shipped and "synthetic-rat" in names


def test_installed_kpbench_runs_and_reports_a_tiny_config_in_the_working_folder(
    installed, elsewhere, tmp_path
):
    ds = make_blob_dataset(tmp_path / "frames", n_frames=12)
    project = write_dlc_project(ds, tmp_path / "dlc").parent
    proc = installed.run(elsewhere, installed.kpbench, "info", project)
    assert proc.returncode == 0, proc.stderr
    assert "frames      12" in proc.stdout

    config = {
        "name": NAME,
        "datasets": [{"name": "blobs", "path": str(project)}],
        "threads": 1,
        "adapters": [{"name": "trackrat", "config": {"epochs": 1, "filters": 4, "fc_units": 8}}],
    }
    (elsewhere / "tiny.yaml").write_text(yaml.safe_dump(config))
    proc = installed.run(elsewhere, installed.kpbench, "run", "tiny.yaml", "--out", "runs/t")
    assert proc.returncode == 0, proc.stderr
    run_dir = elsewhere / "runs" / "t"
    [job] = [json.loads(p.read_text()) for p in run_dir.glob("jobs/*/job.json")]
    assert job["status"] == "done", job
    # Installed code is not a checkout, even inside the user's git repository.
    assert json.loads((run_dir / "run.json").read_text())["git_commit"] is None

    proc = installed.run(elsewhere, installed.kpbench, "report", "runs/t")
    assert proc.returncode == 0, proc.stderr
    report = run_dir / "report.md"
    assert proc.stdout.strip().endswith("report.md")
    assert "trackrat" in report.read_text()
    assert list((run_dir / "report").glob("*.png"))
    # Nothing went into the installed package or the source tree.
    assert not (installed.site_packages / "reports").exists()
    assert not (SOURCE / "runs" / "t").exists() and not (SOURCE / "runs" / NAME).exists()
    assert not (SOURCE / "reports" / f"{NAME}.md").exists()


def test_installed_child_env_puts_only_kpbench_on_pythonpath(installed, elsewhere):
    """An adapter's own environment (TensorFlow's) must not import this env's packages."""
    code = "import os; from benchmark.envs import child_env; print(child_env()['PYTHONPATH'])"
    paths = []
    for _ in range(2):  # the second call reuses the folder
        proc = installed.run(elsewhere, installed.python, "-c", code)
        assert proc.returncode == 0, proc.stderr
        paths.append(proc.stdout.strip().split(os.pathsep)[0])
    assert paths[0] == paths[1]
    folder = Path(paths[0])
    assert folder.is_relative_to(installed.cache / "code")
    assert sorted(p.name for p in folder.iterdir()) == ["adapters", "benchmark"]
    for link in folder.iterdir():
        assert link.is_symlink() and link.resolve() == installed.site_packages / link.name
    # A bare interpreter (no site-packages) with that PYTHONPATH sees kpbench and nothing of
    # the venv's site-packages (pip is there); the venv's site-packages itself would leak it.
    probe = (
        "import importlib.util as u, benchmark.paths;"
        "print(u.find_spec('pip') is None, benchmark.paths.code_root())"
    )
    env = {**installed.env(), "PYTHONPATH": str(folder)}
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["True", str(installed.site_packages)]


def test_in_the_source_checkout_child_env_and_commit_name_the_checkout():
    assert (SOURCE / "pyproject.toml").is_file()
    assert child_env()["PYTHONPATH"].split(os.pathsep)[0] == str(SOURCE)
    head = _sh("git", "rev-parse", "HEAD", cwd=SOURCE).strip()
    commit = git_commit()
    assert commit is not None and commit.removesuffix("-dirty") == head
