"""DeepLabCut itself accepts the projects our writer makes."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from benchmark.io.dlc import write_dlc_project
from tests.unit.io.conftest import two_video_dataset

CODE = """
import sys, deeplabcut
deeplabcut.create_training_dataset(
    sys.argv[1], num_shuffles=1, net_type="resnet_50", engine=deeplabcut.Engine.PYTORCH
)
"""


@pytest.mark.integration
def test_create_training_dataset_accepts_written_project(tmp_path):
    """``create_training_dataset`` merges every labelled frame of both videos, offline."""
    ds = two_video_dataset(tmp_path / "src")
    config = write_dlc_project(ds, tmp_path / "proj", scorer="kp", task="blobs")
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(config)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    merged = list((config.parent / "training-datasets").rglob("CollectedData_kp.h5"))
    assert len(merged) == 1
    df = pd.read_hdf(merged[0])
    assert sorted("/".join(i) for i in df.index) == sorted(ds.frame_ids)
    assert list(pd.unique(df.columns.get_level_values("bodyparts"))) == list(ds.keypoints)
    assert list((config.parent / "dlc-models-pytorch").rglob("pytorch_config.yaml"))
