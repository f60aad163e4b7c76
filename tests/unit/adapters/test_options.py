"""Adapter options: types from defaults, rules for ranges, one message naming option and value."""

from __future__ import annotations

import pytest

from adapters.options import (
    POSITIVE_INT,
    ConfigError,
    Either,
    Number,
    OneOf,
    Pair,
    ResolvedOptions,
    check_options,
    given_options,
)
from benchmark.errors import KpbenchError
from benchmark.registry import load_class, registered

DEFAULTS = {"epochs": 40, "lr": 1e-3, "augment": True, "net": "a", "crop": None, "extra": {}}
RULES = {"epochs": POSITIVE_INT, "crop": Either((OneOf(("auto",)), Pair(POSITIVE_INT)))}


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("epochs", -1, "option 'epochs' must be an integer >= 1, not -1"),
        ("epochs", "two", "option 'epochs' must be an integer >= 1, not 'two'"),
        ("epochs", 2.5, "must be an integer >= 1"),
        ("epochs", True, "must be an integer >= 1"),
        ("lr", "fast", "option 'lr' must be a number, not 'fast'"),
        ("augment", "yes", "option 'augment' must be one of true, false, not 'yes'"),
        ("augment", 1, "must be one of true, false"),
        ("net", 50, "option 'net' must be text"),
        ("crop", "big", "option 'crop' must be one of auto or [a, b] of an integer >= 1"),
        ("crop", [256], "must be one of auto or [a, b]"),
        ("extra", [1], "option 'extra' must be a mapping"),
    ],
)
def test_bad_values_name_the_option_and_the_value(option, value, words) -> None:
    with pytest.raises(ConfigError, match=r"^adapter 'x': ") as info:
        check_options("x", DEFAULTS, RULES, {option: value})
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [("epochs", 1), ("lr", 1), ("lr", 0.5), ("augment", False), ("crop", "auto"), ("crop", [8, 9])],
)
def test_good_values_are_kept(option, value) -> None:
    assert check_options("x", DEFAULTS, RULES, {option: value})[option] == value


def test_unknown_option_gets_a_suggestion_and_is_a_kpbench_error() -> None:
    with pytest.raises(KpbenchError, match=r"unknown option 'epoch' \(did you mean 'epochs'\?\)"):
        check_options("x", DEFAULTS, RULES, {"epoch": 3})


def test_resolved_options_remember_what_was_given() -> None:
    """Defaults fill the rest, and resolving again (as adapters do in ``train``) keeps
    knowing which options the user set, even one set to its default's value."""
    resolved = check_options("x", DEFAULTS, RULES, {"epochs": 40, "net": "b"})
    assert resolved == {**DEFAULTS, "epochs": 40, "net": "b"}
    assert resolved.given == {"epochs", "net"}
    again = check_options("x", DEFAULTS, RULES, resolved)
    assert again == resolved and again.given == {"epochs", "net"}
    assert check_options("x", DEFAULTS, RULES, None).given == frozenset()
    # A plain mapping's options all count as given, and so do those of a copy that lost
    # track (dataclasses.asdict rebuilds a mapping from its items).
    assert given_options({"lr": 1.0}) == {"lr"}
    assert ResolvedOptions(resolved.items()).given == set(DEFAULTS)


def test_number_bounds_are_described_and_enforced() -> None:
    rule = Number(min=0, below=1)
    assert rule.describe() == "a number >= 0 and < 1"
    assert rule.problem(0) is None and rule.problem(0.999) is None
    assert rule.problem(1) is not None and rule.problem(-0.1) is not None
    assert Number(integer=True, nullable=True).problem(None) is None
    assert Pair(Number(), ordered=True).problem([2, 1]) is not None


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_registered_adapter_accepts_its_own_defaults(name) -> None:
    cls = load_class(name)
    assert cls.resolve_config(dict(cls.default_config)) == dict(cls.default_config)
    for option in cls.option_rules:
        assert option in cls.default_config, f"{name}: rule for unknown option {option!r}"


@pytest.mark.parametrize(
    ("name", "config", "words"),
    [
        ("heatmap", {"epochs": -1}, "option 'epochs' must be an integer >= 1"),
        ("trackrat", {"epochs": "two"}, "option 'epochs' must be an integer >= 1, not 'two'"),
        ("heatmap", {"loss": "l1"}, "option 'loss' must be one of bce, mse"),
        ("deeplabcut", {"epochs": 0}, "option 'epochs' must be an integer >= 1 or null"),
        ("deeplabcut", {"train_crop": "big"}, "option 'train_crop' must be one of auto, dlc, none"),
        ("sleap", {"scale": [1.2, 0.9]}, "option 'scale' must be [a, b]"),
        ("sleap", {"output_stride": 32}, "output_stride must not exceed max_stride"),
        ("deepposekit", {"model": "UNet"}, "option 'model' must be one of StackedDenseNet"),
    ],
)
def test_real_adapters_reject_bad_values_before_any_import(name, config, words) -> None:
    with pytest.raises(ConfigError) as info:
        load_class(name).resolve_config(config)
    assert words in str(info.value)
