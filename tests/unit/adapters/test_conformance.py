"""Our own networks pass the conformance suite every adapter must pass."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.conformance import check_adapter


@pytest.mark.parametrize("name", ["trackrat", "heatmap"])
def test_our_networks_conform(name, tmp_path):
    pred = check_adapter(name, {"epochs": 2, "batch_size": 4}, tmp_path)
    assert pred.shape[-1] == 3


def test_our_networks_follow_the_training_clock_protocol(tmp_path) -> None:
    """Snapshots load and predict; a spent budget stops after the first epoch."""
    from benchmark.conformance import check_training_clock

    config = {"epochs": 8, "filters": 8, "scale": 1.0}
    preds = check_training_clock("heatmap", config, tmp_path / "heatmap")
    assert len(preds) >= 4  # >= 3 snapshots and the final model
    assert not np.allclose(preds[0], preds[-1], equal_nan=True)  # weights moved on
    check_training_clock("trackrat", {"epochs": 4, "scale": 1.0}, tmp_path / "trackrat")
    # Without fitting the schedule to the budget, the clock's stop ends training.
    fixed = {**config, "fit_schedule_to_budget": False}
    check_training_clock("heatmap", fixed, tmp_path / "heatmap-fixed")
