"""The SLEAP adapter's sleap-nn config: never mirrored, and configured for the data by
sleap-nn's own recommender (real sleap-nn, no training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sleap.adapter import DATA_DIR, MODEL_DIR, SleapAdapter, training_config
from benchmark.dataset import Dataset
from benchmark.io import read_dataset
from benchmark.synthetic import generate


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


@pytest.fixture(scope="module")
def rat(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """8 frames of the synthetic rat (320x240, the rat about 100 px long)."""
    pytest.importorskip("sleap_nn")
    return read_dataset(generate("rat", tmp_path_factory.mktemp("rat") / "rat", n_frames=8))


def _told(setup_config) -> dict:
    """What sleap-nn is told for the recommended options."""
    unet = setup_config.model_config.backbone_config.unet
    return {
        "input_scale": setup_config.data_config.preprocessing.scale,
        "sigma": setup_config.model_config.head_configs.single_instance.confmaps.sigma,
        "rotation": setup_config.data_config.augmentation_config.geometric.rotation_max,
        "max_stride": unet.max_stride,
        "filters": unet.filters,
        "filters_rate": unet.filters_rate,
    }


def test_options_not_given_are_sleap_nns_recommendation(rat: Dataset, tmp_path: Path) -> None:
    from sleap_nn.config_generator import ConfigGenerator

    setup = SleapAdapter().prepare(rat, None, tmp_path, {}, 0)
    # What `sleap-nn config train.pkg.slp` would write for the same frames.
    generated = ConfigGenerator.from_slp(str(tmp_path / DATA_DIR / "train.pkg.slp")).auto()
    expected = _told(generated.build())
    assert setup.notes["recommended"] == expected
    assert _told(setup.sleap_config) == expected
    assert setup.notes["overridden"] == {}
    assert setup.notes["recommendation"].endswith("; all used")
    # Here the recommendation is not the adapter's defaults, so the test tells them apart.
    defaults = SleapAdapter.default_config
    assert [k for k in expected if expected[k] != defaults[k]] == [
        "input_scale",
        "sigma",
        "max_stride",
        "filters",
    ]


def test_given_options_win_and_are_recorded(rat: Dataset, tmp_path: Path) -> None:
    """As in `make bench`: the worker resolves the run config's options before ``train``,
    and sigma 2.5 is also the adapter's default, yet it counts as given. (The resolution
    rule is off here; the next test has it on.)"""
    given = {"input_scale": 0.25, "sigma": 2.5, "filters": 32}
    config = SleapAdapter.resolve_config({**given, "resolution_from_data": False})
    setup = SleapAdapter().prepare(rat, None, tmp_path, config, 0)
    told = _told(setup.sleap_config)
    assert {k: told[k] for k in given} == given
    assert setup.notes["overridden"] == {
        "input_scale": {"recommended": 1.0, "used": 0.25},
        "sigma": {"recommended": 5.0, "used": 2.5},
    }  # filters 32 is sleap-nn's choice too
    # max_stride: sleap-nn's rule at the scale trained with (32 at its own scale 1.0).
    assert setup.notes["recommended"]["max_stride"] == told["max_stride"] == 16
    assert setup.notes["recommendation"] == (
        "sleap-nn recommended input_scale 1.0, sigma 5.0, rotation 15.0, max_stride 16, "
        "filters 32, filters_rate 1.5 (max_stride for input_scale 0.25); "
        "the run config set input_scale 0.25, sigma 2.5"
    )
    assert setup.config == {**setup.config, **given, "max_stride": 16}
    assert "resolution" not in setup.notes


def test_a_given_input_scale_is_raised_where_the_labels_need_it(
    rat: Dataset, tmp_path: Path
) -> None:
    """The rule every adapter that scales frames down shares (benchmark.resolution): on the
    synthetic rat a quarter scale is too small, and sleap-nn is told the raised scale, with
    the receptive field recommended for it."""
    from benchmark.resolution import input_resolution

    expected = input_resolution(rat, 0.25)
    assert expected.raised
    config = SleapAdapter.resolve_config({"input_scale": 0.25})
    setup = SleapAdapter().prepare(rat, None, tmp_path, config, 0)
    assert (
        _told(setup.sleap_config)["input_scale"] == setup.config["input_scale"] == (expected.scale)
    )
    assert setup.notes["resolution"] == expected.note()
    assert setup.notes["overridden"]["input_scale"] == {
        "recommended": 1.0,
        "used": expected.scale,
    }
    assert f"max_stride for input_scale {expected.scale}" in setup.notes["recommendation"]
    # Not given: sleap-nn's recommendation decides, and the rule is not applied on top.
    assert "resolution" not in SleapAdapter().prepare(rat, None, tmp_path / "r", {}, 0).notes


def test_recommend_false_is_the_defaults(rat: Dataset, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    setup = SleapAdapter().prepare(rat, None, tmp_path, {"recommend": False}, 0)
    defaults = SleapAdapter.resolve_config({"recommend": False})
    assert setup.config == defaults
    assert not {"recommended", "overridden", "recommendation"} & set(setup.notes)
    data = tmp_path.resolve() / DATA_DIR
    expected = training_config(
        defaults,
        train_path=data / "train.pkg.slp",
        val_path=data / "val.pkg.slp",
        ckpt_dir=tmp_path.resolve(),
        run_name=MODEL_DIR,
        seed=0,
    )
    assert OmegaConf.to_container(setup.sleap_config) == OmegaConf.to_container(expected)


def test_only_unet_options_follow_the_unet_recommendation(rat: Dataset, tmp_path: Path) -> None:
    setup = SleapAdapter().prepare(rat, None, tmp_path, {"backbone": "convnext"}, 0)
    assert set(setup.notes["recommended"]) == {"input_scale", "sigma", "rotation"}
