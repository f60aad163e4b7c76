"""The command line: JSON outputs and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.io.dlc import write_dlc_project
from benchmark.io.predictions import write_dlc_predictions
from tests.fixtures import make_blob_dataset


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json_on_the_open_field_mouse(capsys, openfield_mouse_dir):
    code, out, _ = _run(capsys, "info", str(openfield_mouse_dir), "--json")
    info = json.loads(out)
    assert code == 0
    assert info["n_frames"] == 116
    assert info["keypoints"] == ["snout", "leftear", "rightear", "tailbase"]
    assert info["n_labeled"] == 464 and info["n_missing"] == 0
    assert info["image_size"] == [640, 480]
    assert info["format"] == "deeplabcut"
    assert info["flip_pairs"] == [["leftear", "rightear"]]
    assert info["flip_pairs_source"] == "names" and info["flip_off_reason"] is None
    # The label geometry the input-resolution rule reads: ears 13 px apart, a 111 px mouse.
    assert info["keypoint_separation_px"] == pytest.approx(13.1, abs=0.05)
    assert info["animal_size_px"] == pytest.approx(111, abs=0.5)
    code, out, _ = _run(capsys, "info", str(openfield_mouse_dir))
    assert "geometry    keypoints 13.1 px apart, animal 111 px across: needs input scale 0.23 " \
        "or more (docs/cpu-defaults.md)" in out.splitlines()  # fmt: skip


def test_info_prints_the_left_right_pairs_or_why_none(capsys, tmp_path):
    ds = make_blob_dataset(tmp_path / "frames", n_frames=4)
    write_dlc_project(ds, tmp_path / "proj")
    code, out, _ = _run(capsys, "info", str(tmp_path / "proj"))
    assert code == 0
    assert "mirroring   left_ear<->right_ear (from names)" in out.splitlines()
    lone = ds.with_keypoints(["snout", "left_ear", "tail_base"])
    write_dlc_project(lone, tmp_path / "lone")
    code, out, _ = _run(capsys, "info", str(tmp_path / "lone"))
    line = "mirroring   none (keypoint 'left_ear' marks a side but has no partner)"
    assert line in out.splitlines()
    code, out, _ = _run(capsys, "info", str(tmp_path / "lone"), "--json")
    info = json.loads(out)
    assert info["flip_pairs"] == []
    assert info["flip_off_reason"] == "keypoint 'left_ear' marks a side but has no partner"


def test_split_then_evaluate_on_the_open_field_mouse(capsys, tmp_path, openfield_mouse_dir):
    split = tmp_path / "split.json"
    assert _run(capsys, "split", str(openfield_mouse_dir), "--test-fraction", "0.2",
                "--seed", "1", "--out", str(split))[0] == 0  # fmt: skip
    test_ids = json.loads(split.read_text())["test"]
    assert len(test_ids) == 23

    # Predictions = labels shifted by (1.5, 2) px: every error is exactly 2.5 px.
    from benchmark.io import read_dataset

    gt = read_dataset(openfield_mouse_dir).subset(test_ids)
    shifted = gt.points + np.array([1.5, 2.0])
    values = np.concatenate([shifted, np.ones((*gt.points.shape[:2], 1))], -1)
    pred = tmp_path / "pred.csv"
    write_dlc_predictions(pred, gt.frame_ids, gt.keypoints, values)
    code, out, _ = _run(capsys, "evaluate", "--gt", str(openfield_mouse_dir), "--pred",
                        str(pred), "--split", str(split), "--json")  # fmt: skip
    result = json.loads(out)
    assert code == 0
    assert result["n_frames"] == 23 and result["n_labeled"] == 92
    assert result["mean_px"] == pytest.approx(2.5) and result["rmse_px"] == pytest.approx(2.5)
    assert result["pck"] == {"2": 0.0, "5": 1.0, "10": 1.0, "20": 1.0}
    assert set(result["per_keypoint"]) == set(gt.keypoints)

    # Without the split, all 116 frames are ground truth and 93 have no prediction.
    code, _, err = _run(capsys, "evaluate", "--gt", str(openfield_mouse_dir), "--pred", str(pred))
    assert code == 2 and "no prediction for frame" in err and str(pred) in err


def _project(tmp_path: Path) -> Path:
    ds = make_blob_dataset(tmp_path / "frames", n_frames=6)
    write_dlc_project(ds, tmp_path / "proj")
    return tmp_path / "proj"


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path):
    """A missing image, run through the real entry point: no traceback, no output file."""
    project = _project(tmp_path)
    victim = next((project / "labeled-data").glob("*/img0003.png"))
    victim.unlink()
    out = tmp_path / "split.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", "split", str(project), "--test-fraction", "0.3",
         "--seed", "0", "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "img0003.png" in lines[0]
    assert not out.exists()


def test_split_for_another_dataset_is_refused(capsys, tmp_path):
    project = _project(tmp_path)
    other = make_blob_dataset(tmp_path / "other", n_frames=6, seed=9)
    write_dlc_project(other, tmp_path / "proj2")
    split = tmp_path / "split.json"
    assert _run(capsys, "split", str(tmp_path / "proj2"), "--test-fraction", "0.5",
                "--seed", "0", "--out", str(split))[0] == 0  # fmt: skip
    pred = tmp_path / "p.csv"
    pred.write_text("unused")
    code, _, err = _run(
        capsys, "evaluate", "--gt", str(project), "--pred", str(pred), "--split", str(split)
    )
    assert code == 2 and str(split) in err and "hash" in err


def test_unknown_format_and_unknown_adapter(capsys, tmp_path):
    weird = tmp_path / "labels.txt"
    weird.write_text("x")
    code, _, err = _run(capsys, "info", str(weird))
    assert code == 2 and str(weird) in err
    config = tmp_path / "run.yaml"
    project = _project(tmp_path)
    config.write_text(f"datasets: [{{name: p, path: {project}}}]\nadapters: [heatmapp]\n")
    code, _, err = _run(capsys, "run", str(config), "--out", str(tmp_path / "run"))
    assert code == 2 and "did you mean 'heatmap'" in err
    assert not (tmp_path / "run").exists()


def test_adapters_list_says_an_unbuilt_environment_does_not_run_yet(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KPBENCH_ENVS", str(tmp_path / "no-envs"))
    code, out, _ = _run(capsys, "adapters", "list")
    row = next(line for line in out.splitlines() if line.startswith("deepposekit"))
    assert code == 0
    assert "no (environment missing: kpbench env create deepposekit)" in row
    assert "deepposekit (missing)" in row
    heatmap = next(line for line in out.splitlines() if line.startswith("heatmap"))
    assert " yes " in heatmap


def test_evaluate_prints_pck_at_the_thresholds_given(capsys, tmp_path):
    project = _project(tmp_path)
    from benchmark.io import read_dataset

    gt = read_dataset(project)
    values = np.concatenate([gt.points + 3.0, np.ones((*gt.points.shape[:2], 1))], -1)
    pred = tmp_path / "pred.csv"
    write_dlc_predictions(pred, gt.frame_ids, gt.keypoints, values)
    code, out, _ = _run(
        capsys, "evaluate", "--gt", str(project), "--pred", str(pred), "--thresholds", "4", "5"
    )
    lines = {line.split()[0]: line.split()[-1] for line in out.splitlines()[1:]}
    assert code == 0
    # Every error is 3 * sqrt(2) = 4.24 px: outside 4 px, inside 5 px.
    assert lines["pck@4"] == "0.000" and lines["pck@5"] == "1.000"
    assert "pck@10" not in lines and lines["mean_px"] == "4.243"
