"""The SLEAP adapter's sleap-nn config never mirrors frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sleap.adapter import SleapAdapter, training_config


@pytest.mark.parametrize("options", [{}, {"rotation": 0.0, "scale": None}])
def test_sleap_nn_is_told_never_to_flip(options: dict, tmp_path: Path) -> None:
    pytest.importorskip("sleap_nn")
    cfg = SleapAdapter().resolve_config(options)
    config = training_config(
        cfg,
        train_path=tmp_path / "train.pkg.slp",
        val_path=tmp_path / "val.pkg.slp",
        ckpt_dir=tmp_path / "models",
        run_name="model",
        seed=0,
    )
    assert config.data_config.use_augmentations_train
    assert config.data_config.augmentation_config.geometric.flip_p == 0.0
