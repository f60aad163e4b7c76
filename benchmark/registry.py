"""Adapter registry: names map to ``"module:Class"`` strings, imported only when used.

Third-party packages add adapters through the entry-point group ``kpbench.adapters``
(``name = "package.module:Class"``). Built-in names win over entry points. A name holding a
colon is itself a ``"module:Class"`` target, handy while developing an adapter.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from typing import TYPE_CHECKING

from benchmark.errors import KpbenchError

if TYPE_CHECKING:
    from adapters.base import Adapter

ENTRY_POINT_GROUP = "kpbench.adapters"

BUILTIN: dict[str, str] = {
    "trackrat": "adapters.trackrat_cnn.adapter:TrackRatAdapter",
    "heatmap": "adapters.heatmap_cnn.adapter:HeatmapAdapter",
    "deeplabcut": "adapters.deeplabcut.adapter:DeepLabCutAdapter",
    "sleap": "adapters.sleap.adapter:SleapAdapter",
    "deepposekit": "adapters.deepposekit.adapter:DeepPoseKitAdapter",
    "yolo": "adapters.yolo.adapter:YoloAdapter",
}


class UnknownAdapterError(KpbenchError):
    """No adapter is registered under the requested name."""


def registered() -> dict[str, str]:
    """All adapter names with their ``"module:Class"`` target, built-ins first."""
    targets = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    return {**targets, **BUILTIN}


def target(name: str) -> str:
    """The ``"module:Class"`` string of adapter ``name``.

    Raises:
        UnknownAdapterError: ``name`` is not registered (with a did-you-mean suggestion).
    """
    if ":" in name:  # a direct "module:Class" target, e.g. an adapter under development
        return name
    targets = registered()
    if name not in targets:
        close = difflib.get_close_matches(name, list(targets), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownAdapterError(
            f"unknown adapter {name!r}{hint} (known: {', '.join(sorted(targets))})"
        )
    return targets[name]


def load_class(name: str) -> type[Adapter]:
    """Import and return the adapter class registered as ``name``."""
    module_name, _, attr = target(name).partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UnknownAdapterError(
            f"adapter {name!r}: {module_name} has no attribute {attr!r}"
        ) from None
