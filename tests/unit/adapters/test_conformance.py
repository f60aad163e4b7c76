"""Our own networks pass the conformance suite every adapter must pass."""

from __future__ import annotations

import pytest

from benchmark.conformance import check_adapter


@pytest.mark.parametrize("name", ["trackrat", "heatmap"])
def test_our_networks_conform(name, tmp_path):
    pred = check_adapter(name, {"epochs": 2, "batch_size": 4}, tmp_path)
    assert pred.shape[-1] == 3
