"""One rule for pretrained weights and one test of offline mode, for every adapter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.options import ConfigError
from adapters.pretrained import choose_pretrained, offline


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_offline_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert offline()


def test_offline_as_huggingface_hub_read_it_at_import() -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once; unset later, the hub still stays offline."""
    code = (
        "import os, huggingface_hub.constants\n"
        "del os.environ['HF_HUB_OFFLINE']\n"
        "from adapters.pretrained import offline\n"
        "print(offline())\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


def _choose(setting, cached=False, problem=None):
    return choose_pretrained("x", setting, "X's weights", lambda: cached, lambda: problem)


def test_choices_online() -> None:
    """In a fresh process without HF_HUB_OFFLINE (this one may have imported
    huggingface_hub offline, which it then stays); cache and hub answers are given."""
    code = (
        "from adapters.pretrained import choose_pretrained, offline\n"
        "def choose(setting, cached=False, problem=None):\n"
        "    return choose_pretrained('x', setting, \"X's weights\", lambda: cached,\n"
        "                             lambda: problem)\n"
        "assert not offline()\n"
        "assert choose(False, cached=True)[0] is False\n"
        "assert choose('auto', cached=True) == (True, \"X's weights found in the cache\")\n"
        "assert choose(True)[0] is True\n"
        "assert choose('auto')[0] is True\n"
        "used, why = choose('auto', problem='the hub is unreachable (timed out)')\n"
        "assert not used and 'the hub is unreachable (timed out)' in why\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env["PYTHONPATH"] = str(root)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_choices_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _choose(True, cached=True)[0] is True
    assert _choose("auto") == (
        False,
        "auto: weights not cached and HF_HUB_OFFLINE is set (random init)",
    )
    with pytest.raises(ConfigError, match="adapter 'x': pretrained: true needs X's weights"):
        _choose(True)


def test_sleap_refuses_uncached_weights_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The SLEAP adapter decides with the one rule (empty torch hub cache, offline)."""
    pytest.importorskip("torchvision")
    from adapters.sleap.adapter import resolve_pretrained as sleap_pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cfg = {"backbone": "convnext", "pretrained": True}
    with pytest.raises(ConfigError, match="adapter 'sleap': pretrained: true needs"):
        sleap_pretrained(cfg)
    assert sleap_pretrained({**cfg, "pretrained": "auto"})[0] is False
    assert sleap_pretrained({"backbone": "unet", "pretrained": "auto"})[0] is False
