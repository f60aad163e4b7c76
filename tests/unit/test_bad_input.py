"""Every class of bad input kpbench knows: one line naming the file or option, the exit code,
and nothing written.

Each row builds its input in a temporary folder (tiny generated DeepLabCut projects, configs
and files), runs one ``kpbench`` command in-process, and checks the exit code, that stderr
is a single ``kpbench: error:`` line without a traceback, that it holds the expected words,
and that the command's output path was not created. Commands that need a subprocess (Ctrl-C,
failed jobs, relative paths) are in ``test_cli_run.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.cli import main
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import write_dlc_predictions
from tests.fixtures import make_blob_dataset

MEAN = "tests.adapters_for_tests:MeanPoseAdapter"
FAILING = "tests.adapters_for_tests:FailingAdapter"


@dataclass
class Case:
    """A folder to build inputs in, with a project and helpers to write configs."""

    root: Path

    @property
    def out(self) -> Path:
        """The output path a command must not create."""
        return self.root / "out"

    def project(self, n_frames: int = 8, name: str = "proj", seed: int = 0) -> Path:
        """A DeepLabCut project of ``n_frames`` generated 64x48 frames, 4 keypoints."""
        folder = self.root / name
        if not folder.exists():
            ds = make_blob_dataset(self.root / f"{name}-frames", n_frames=n_frames, seed=seed)
            write_dlc_project(ds, folder)
        return folder

    def labels(self, project: Path) -> Path:
        """The project's label CSV."""
        return next(project.glob("labeled-data/*/CollectedData_*.csv"))

    def config(
        self,
        adapters: list | None = None,
        text: str | None = None,
        datasets: list | None = None,
        **extra,
    ) -> Path:
        """A run config (default: the mean-pose adapter on the project), or the raw ``text``."""
        path = self.root / "run.yaml"
        if text is None:
            data = {
                "name": "bad",
                "datasets": datasets or [{"name": "p", "path": str(self.project())}],
                "adapters": adapters if adapters is not None else [MEAN],
                "threads": 1,
                **extra,
            }
            text = yaml.safe_dump(data)
        path.write_text(text)
        return path

    def run(self, *adapters: object, **config) -> list[str]:
        """``kpbench run`` of a config with ``adapters`` (default mean-pose) into ``out``."""
        path = self.config(list(adapters) or None, **config)
        return ["run", str(path), "--out", str(self.out)]

    def predictions(self, keypoints: tuple[str, ...] | None = None) -> Path:
        """A predictions CSV for every frame of the project (optionally other keypoints)."""
        from benchmark.io import read_dataset

        ds = read_dataset(self.project())
        names = keypoints or ds.keypoints
        values = np.ones((ds.n_frames, len(names), 3))
        path = self.root / "pred.csv"
        write_dlc_predictions(path, ds.frame_ids, names, values)
        return path

    def split(self, project: Path, folds: int | None = None) -> Path:
        """A split file of ``project`` made by ``kpbench split``."""
        path = self.root / f"split-{project.name}.json"
        argv = ["split", str(project), "--seed", "0", "--out", str(path)]
        assert main(argv + (["--folds", str(folds)] if folds else [])) == 0
        return path


def _unlabel(case: Case, keep: int) -> Path:
    """The project with labels cleared on every frame but the first ``keep``."""

    def clear(lines: list[str]) -> list[str]:
        rows = [line.split(",") for line in lines[3 + keep :]]
        return lines[: 3 + keep] + [",".join(r[:3] + [""] * (len(r) - 3)) for r in rows]

    return _edit_csv(case, clear)


def _missing_image(case: Case) -> Path:
    project = case.project()
    next(project.glob("labeled-data/*/img0004.png")).unlink()
    return project


def _edit_csv(case: Case, edit: Callable[[list[str]], list[str]]) -> Path:
    """The project with its label CSV's lines edited (and its h5 removed: the CSV is read)."""
    project = case.project()
    csv = case.labels(project)
    csv.write_text("\n".join(edit(csv.read_text().splitlines())) + "\n")
    for h5 in project.glob("labeled-data/*/CollectedData_*.h5"):
        h5.unlink()
    return project


def _file(case: Case, name: str, text: str | bytes = "x") -> Path:
    path = case.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _huge_image(case: Case) -> Path:
    """The project with one image replaced by a 14000x14000 PNG header (PIL's bomb guard)."""
    from tests.unit.io.test_image_sizes import png_header_only

    project = case.project()
    png_header_only(next(project.glob("labeled-data/*/img0001.png")), 14000, 14000)
    return project


def _failed_run(case: Case) -> Path:
    """A run whose only job failed (``kpbench run`` exits 1)."""
    config = case.config([FAILING])
    assert main(["run", str(config), "--out", str(case.root / "failed"), "--quiet"]) == 1
    return case.root / "failed"


def _corrupt_image(case: Case) -> Path:
    project = case.project()
    image = sorted(project.glob("labeled-data/*/img*.png"))[2]
    image.write_bytes(image.read_bytes()[:60])
    return project


def _random_bytes(case: Case, name: str) -> Path:
    path = case.root / name
    path.write_bytes(np.random.default_rng(0).bytes(512))
    return path


def _run_dir_of_other_config(case: Case) -> Path:
    """A finished run (one mean-pose job), then a config with another seed for it."""
    config = case.config()
    assert main(["run", str(config), "--out", str(case.root / "done"), "--quiet"]) == 0
    case.config(seeds=[5])
    return case.root / "done"


Build = Callable[[Case], list[str]]

#: (id, argv builder, exit code, words the error line must hold)
ROWS: list[tuple[str, Build, int, list[str]]] = [
    # ----- reading datasets
    ("info-missing-path", lambda c: ["info", str(c.root / "nope")], 2, ["nope"]),
    (
        "info-unknown-format",
        lambda c: ["info", str(_random_bytes(c, "labels.txt"))],
        2,
        ["labels.txt"],
    ),
    (
        "info-random-bytes-slp",
        lambda c: ["info", str(_random_bytes(c, "labels.slp"))],
        2,
        ["labels.slp"],
    ),
    (
        "info-random-bytes-coco",
        lambda c: ["info", str(_random_bytes(c, "coco.json"))],
        2,
        ["coco.json"],
    ),
    (
        "info-truncated-image",
        lambda c: ["info", str(_corrupt_image(c))],
        2,
        ["img0002.png"],
    ),
    (
        "info-missing-image",
        lambda c: [
            "info",
            str(c.project()),
            *[p.unlink() for p in sorted(c.project().glob("labeled-data/*/img0004.png"))][:0],
        ],
        2,
        ["img0004.png", "missing image"],
    ),
    (
        "info-non-numeric-label",
        lambda c: [
            "info",
            str(
                (
                    lambda p, csv: (
                        csv.write_text(csv.read_text().replace(".", "x", 40)),
                        [h.unlink() for h in p.glob("labeled-data/*/*.h5")],
                        p,
                    )[-1]
                )(c.project(), c.labels(c.project()))
            ),
        ],
        2,
        ["CollectedData"],
    ),
    (
        "info-bad-header",
        lambda c: [
            "info",
            str(
                (
                    lambda p, csv: (
                        csv.write_text("\n".join(csv.read_text().splitlines()[2:])),
                        [h.unlink() for h in p.glob("labeled-data/*/*.h5")],
                        p,
                    )[-1]
                )(c.project(), c.labels(c.project()))
            ),
        ],
        2,
        ["CollectedData"],
    ),
    # ----- split
    (
        "split-test-fraction-out-of-range",
        lambda c: ["split", str(c.project()), "--test-fraction", "1.5", "--out", str(c.out)],
        2,
        ["test_fraction must be in (0, 1)"],
    ),
    (
        "split-one-labelled-frame",
        lambda c: ["split", str(c.project(n_frames=1, name="one")), "--out", str(c.out)],
        2,
        ["leaves no training frames"],
    ),
    (
        "split-out-under-a-file",
        lambda c: ["split", str(c.project()), "--out", str(_file(c, "afile") / "split.json")],
        2,
        ["afile/split.json", "cannot write here"],
    ),
    # ----- evaluate
    (
        "evaluate-fold-out-of-range",
        lambda c: [
            "evaluate",
            "--gt",
            str(c.project()),
            "--pred",
            str(c.predictions()),
            "--split",
            str(c.split(c.project(), folds=2)),
            "--fold",
            "9",
        ],
        2,
        ["has folds 0 to 1; --fold 9 is not one"],
    ),
    (
        "evaluate-negative-fold",
        lambda c: [
            "evaluate",
            "--gt",
            str(c.project()),
            "--pred",
            str(c.predictions()),
            "--split",
            str(c.split(c.project())),
            "--fold",
            "-1",
        ],
        2,
        ["--fold -1 is not one"],
    ),
    (
        "evaluate-missing-predictions",
        lambda c: ["evaluate", "--gt", str(c.project()), "--pred", str(c.root / "none.csv")],
        2,
        ["none.csv"],
    ),
    (
        "evaluate-other-keypoints",
        lambda c: [
            "evaluate",
            "--gt",
            str(c.project()),
            "--pred",
            str(c.predictions(keypoints=("a", "b", "c", "d"))),
        ],
        2,
        ["pred.csv"],
    ),
    (
        "evaluate-split-of-another-dataset",
        lambda c: [
            "evaluate",
            "--gt",
            str(c.project()),
            "--pred",
            str(c.predictions()),
            "--split",
            str(c.split(c.project(name="other", seed=9))),
        ],
        2,
        ["hash"],
    ),
    # ----- run: the config file
    ("run-config-missing", lambda c: ["run", str(c.root / "no.yaml")], 2, ["run config not found"]),
    (
        "run-config-not-yaml",
        lambda c: ["run", str(c.config(text="datasets: [a\n"))],
        2,
        ["not valid YAML"],
    ),
    (
        "run-config-not-utf8",
        lambda c: ["run", str(_file(c, "run.yaml", b"name: caf\xe9\ndatasets: [a]\n"))],
        2,
        ["run.yaml: not UTF-8 text (byte 0xe9 at offset 9)"],
    ),
    (
        "run-config-is-a-folder",
        lambda c: ["run", str(c.project())],
        2,
        ["proj: is a folder, not a run config file"],
    ),
    (
        "run-config-key-twice",
        lambda c: ["run", str(c.config(text="datasets: [a]\nadapters: [x]\ndatasets: [b]\n"))],
        2,
        ["run.yaml: key 'datasets' is given twice (lines 1 and 3)"],
    ),
    (
        "run-unknown-top-key",
        lambda c: c.run(adapter=[MEAN]),
        2,
        ["unknown key 'adapter' (did you mean 'adapters'?)"],
    ),
    (
        "run-adapter-entry-typo",
        lambda c: c.run({"name": MEAN, "timeout": 60}),
        2,
        ["unknown key 'timeout' (did you mean 'timeout_s'?)"],
    ),
    (
        "run-dataset-entry-typo",
        lambda c: c.run(datasets=[{"nme": "x"}]),
        2,
        ["unknown key 'nme' (did you mean 'name'?)"],
    ),
    (
        "run-split-typo",
        lambda c: c.run(split={"test_frac": 0.2}),
        2,
        ["unknown key 'test_frac' (did you mean 'test_fraction'?)"],
    ),
    (
        "run-threads-zero",
        lambda c: c.run(threads=0),
        2,
        ["threads must be an integer >= 1, not 0"],
    ),
    (
        "run-timeout-not-a-number",
        lambda c: c.run({"name": MEAN, "timeout_s": "long"}),
        2,
        ["timeout_s must be a number > 0, not 'long'"],
    ),
    (
        "run-test-fraction-out-of-range",
        lambda c: c.run(split={"test_fraction": 1.5}),
        2,
        ["test_fraction must be a number > 0 and < 1, not 1.5"],
    ),
    (
        "run-one-fold",
        lambda c: c.run(split={"folds": 1}),
        2,
        ["folds must be an integer >= 2 or null, not 1"],
    ),
    (
        "run-seeds-not-a-list",
        lambda c: c.run(seeds=3),
        2,
        ["seeds must be a non-empty list, not 3"],
    ),
    # ----- run: adapters and their options
    (
        "run-unknown-adapter",
        lambda c: c.run("heatmapp"),
        2,
        ["did you mean 'heatmap'"],
    ),
    (
        "run-adapter-option-typo",
        lambda c: c.run({"name": "heatmap", "config": {"epoch": 2}}),
        2,
        ["unknown option 'epoch' (did you mean 'epochs'?)"],
    ),
    (
        "run-negative-epochs",
        lambda c: c.run({"name": "heatmap", "config": {"epochs": -1}}),
        2,
        ["adapter 'heatmap': option 'epochs' must be an integer >= 1, not -1"],
    ),
    (
        "run-epochs-as-text",
        lambda c: c.run({"name": "sleap", "config": {"epochs": "two"}}),
        2,
        ["adapter 'sleap': option 'epochs' must be an integer >= 1, not 'two'"],
    ),
    (
        "run-adapter-options-not-a-mapping",
        lambda c: c.run({"name": MEAN, "config": [1]}),
        2,
        ["config must be a mapping of options"],
    ),
    # ----- run: datasets
    (
        "run-dataset-path-missing",
        lambda c: c.run(datasets=[{"path": "gone"}]),
        2,
        ["gone"],
    ),
    (
        "run-unknown-registry-dataset",
        lambda c: c.run(datasets=["synthetic-rats"]),
        2,
        ["synthetic-rats"],
    ),
    (
        "run-dataset-with-one-labelled-frame",
        lambda c: c.run(datasets=[{"name": "p", "path": str(c.project(1, "one"))}]),
        2,
        ["cannot split as the run config says", "no training frames"],
    ),
    (
        "run-dataset-without-labels",
        lambda c: c.run(datasets=[{"name": "p", "path": str(_unlabel(c, keep=0))}]),
        2,
        ["no labelled keypoint", "nothing to train on"],
    ),
    # ----- run: the output folder
    (
        "run-out-is-a-file",
        lambda c: ["run", str(c.config()), "--out", str(c.labels(c.project()))],
        2,
        ["exists and is not a folder"],
    ),
    (
        "run-out-is-a-dlc-project",
        lambda c: ["run", str(c.config()), "--out", str(c.project())],
        2,
        ["is not a kpbench run (no run.json)", "refusing to write into it"],
    ),
    (
        "run-out-has-a-foreign-run-json",
        lambda c: ["run", str(c.config()), "--out", str(_file(c, "x/run.json", "{}").parent)],
        2,
        ["run.json: is not a run manifest kpbench can use", "lacks 'name'"],
    ),
    (
        "run-out-made-by-another-config",
        lambda c: ["run", str(c.root / "run.yaml"), "--out", str(_run_dir_of_other_config(c))],
        2,
        ["made with a different config"],
    ),
    (
        "info-image-over-the-pixel-limit",
        lambda c: ["info", str(_huge_image(c))],
        2,
        ["img0001.png", "image is 14000x14000 px"],
    ),
    # ----- report and track
    (
        "report-not-a-run",
        lambda c: ["report", str(c.project()), "--out", str(c.out / "r.md")],
        2,
        ["not a kpbench run directory"],
    ),
    (
        "report-no-finished-job",
        lambda c: ["report", str(_failed_run(c)), "--out", str(c.out / "r.md")],
        2,
        ["no finished jobs: 1 failed"],
    ),
    (
        "track-out-not-mp4",
        lambda c: ["track", ".", "--adapter", "x", "--video", "v.mp4", "--out", "v.avi"],
        2,
        ["v.avi", "--out takes an .mp4 file"],
    ),
    (
        "track-csv-not-csv-or-h5",
        lambda c: ["track", ".", "--adapter", "x", "--video", "v.mp4", "--csv", "p.parquet"],
        2,
        ["p.parquet", "--csv takes a .csv or .h5 file"],
    ),
    (
        "track-chunk-size-zero",
        lambda c: ["track", str(c.root), "--adapter", "x", "--video", "v.mp4", "--chunk-size", "0"],
        2,
        ["--chunk-size: must be an integer >= 1, not 0"],
    ),
    (
        "track-threads-negative",
        lambda c: ["track", str(c.root), "--compare", "x,y", "--video", "v.mp4", "--threads", "-2"],
        2,
        ["--threads: must be an integer >= 1, not -2"],
    ),
    # ----- other commands
    (
        "datasets-unknown-name",
        lambda c: ["datasets", "path", "synthetic-rats"],
        2,
        ["synthetic-rats"],
    ),
    ("env-unknown-name", lambda c: ["env", "create", "tensorflw"], 2, ["tensorflw"]),
]


def test_the_table_has_every_bad_input_class() -> None:
    assert len(ROWS) >= 30
    assert len({row[0] for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("argv", "code", "words"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input(tmp_path: Path, capsys, argv: Build, code: int, words: list[str]) -> None:
    case = Case(tmp_path)
    args = argv(case)
    capsys.readouterr()  # output of building the input (e.g. a finished run)
    before = {p for p in tmp_path.rglob("*")}
    assert main(args) == code
    out, err = capsys.readouterr()
    errors = [ln for ln in err.splitlines() if not ln.startswith("kpbench: warning:")]
    assert len(errors) == 1, err
    assert errors[0].startswith("kpbench: error: ") and "Traceback" not in err
    for word in words:
        assert word in errors[0]
    assert not case.out.exists()
    created = {p for p in tmp_path.rglob("*")} - before
    assert not created, f"bad input created {sorted(map(str, created))}"
    assert json.dumps(out)  # stdout may be empty; it must not hold a traceback either
    assert "Traceback" not in out
