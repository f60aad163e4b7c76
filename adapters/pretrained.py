"""Whether an adapter starts from pretrained weights: offline mode and one rule for all.

Offline is an explicit mode: ``HF_HUB_OFFLINE`` set (``1``, ``true``, ``yes``, ``on``). Then
nothing is downloaded; online users keep their framework's defaults. Every adapter with a
``pretrained`` option (``auto``, ``true`` or ``false``) decides with :func:`choose_pretrained`.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from adapters.options import ConfigError

_TRUE = ("1", "true", "yes", "on")


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set, now or when ``huggingface_hub`` was imported
    (it reads the variable once, at import)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    constants = sys.modules.get("huggingface_hub.constants")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def hub_unreachable(timeout_s: float = 5.0) -> str | None:
    """Why the Hugging Face hub does not answer, or None when it does (any HTTP status)."""
    from huggingface_hub import constants

    try:
        request = urllib.request.Request(constants.ENDPOINT, method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout_s):
            pass
    except urllib.error.HTTPError:
        return None  # the hub answered (with an HTTP error status): it is reachable
    except OSError as exc:
        return f"the hub is unreachable ({exc})"
    return None


def choose_pretrained(
    adapter: str,
    setting: str | bool,
    weights: str,
    cached: Callable[[], bool],
    unreachable: Callable[[], str | None] = lambda: None,
) -> tuple[bool, str]:
    """Whether to start from pretrained ``weights``, and why (for the notes).

    ``false`` never uses them; ``true`` and ``auto`` use them when ``cached`` or, unless
    offline, downloadable: for ``auto`` only when ``unreachable`` finds no problem.

    Args:
        adapter: Adapter name, for messages.
        setting: The ``pretrained`` option: ``"auto"``, True or False.
        weights: What the weights are, e.g. ``"DLC's ImageNet weights"``.
        cached: Whether the weights are already on disk.
        unreachable: Why their source cannot be reached (None: it can).

    Raises:
        ConfigError: ``pretrained: true`` while offline and the weights are not cached.
    """
    if setting is False:
        return False, "pretrained: false (random init, nothing downloaded)"
    if cached():
        return True, f"{weights} found in the cache"
    if offline():
        if setting is True:
            raise ConfigError(
                f"adapter {adapter!r}: pretrained: true needs {weights}, which are not "
                "cached, and HF_HUB_OFFLINE is set (use pretrained: false or auto)"
            )
        return False, "auto: weights not cached and HF_HUB_OFFLINE is set (random init)"
    if setting is True:
        return True, f"pretrained: true ({weights}, downloaded by the framework)"
    problem = unreachable()
    if problem is not None:
        return False, f"auto: weights not cached and {problem} (random init)"
    return True, f"auto: {weights}, downloaded by the framework"
