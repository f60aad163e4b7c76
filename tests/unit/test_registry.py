"""The adapter registry: lazy targets, did-you-mean, direct module:Class names."""

from __future__ import annotations

import pytest

from adapters.base import Adapter, ConfigError
from benchmark.registry import BUILTIN, UnknownAdapterError, load_class, registered, target


def test_builtin_names_are_registered():
    assert {"deeplabcut", "sleap", "trackrat", "heatmap"} <= set(registered())
    assert registered()["heatmap"] == BUILTIN["heatmap"]


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownAdapterError, match="did you mean 'heatmap'"):
        target("heatmapp")


def test_direct_target_loads_a_class():
    cls = load_class("tests.adapters_for_tests:MeanPoseAdapter")
    assert issubclass(cls, Adapter)
    assert cls.name == "mean-pose"


def test_missing_attribute_is_a_clear_error():
    with pytest.raises(UnknownAdapterError, match="has no attribute 'Nope'"):
        load_class("tests.adapters_for_tests:Nope")


def test_resolve_config_rejects_typos_with_a_suggestion():
    cls = load_class("tests.adapters_for_tests:MeanPoseAdapter")
    assert cls.resolve_config({"epochs": 5}) == {"epochs": 5, "sleep_s": 0.0, "shift": 0.0}
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        cls.resolve_config({"epoch": 5})
