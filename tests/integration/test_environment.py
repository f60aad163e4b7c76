"""The one environment holds every framework with a matching torch/torchvision pair."""

from __future__ import annotations

import subprocess
import sys


def test_frameworks_import_together():
    """DeepLabCut, sleap-nn and torchvision's compiled ops import in one interpreter.

    Run in a fresh interpreter so the check does not depend on what other tests imported.
    A ``+cpu`` torch next to PyPI's torchvision fails here with
    ``operator torchvision::nms does not exist``.
    """
    code = (
        "import torch, torchvision, torchvision.ops, deeplabcut, sleap_nn, sleap_io\n"
        "boxes = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.]])\n"
        "keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)\n"
        "print(deeplabcut.__version__, sleap_nn.__version__, keep.tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    dlc, sleap_nn, keep = out.stdout.split(maxsplit=2)
    assert dlc.startswith("3.0.") and sleap_nn.startswith("0.3.")
    assert keep.strip() == "[0]"
