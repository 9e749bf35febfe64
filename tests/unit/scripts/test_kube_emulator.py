"""scripts/kube_emulator.py: the kubeconfig appears whole (readers poll for it to exist, so a
file created empty and filled later is read as empty, as CI once did)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def emulator_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kube_emulator", REPO / "scripts" / "kube_emulator.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("kube_emulator", module)
    spec.loader.exec_module(module)
    return module


def test_the_kubeconfig_is_renamed_into_place_not_filled_in_place(
    emulator_script: ModuleType, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "state" / "kubeconfig"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text("stale")
    stale_inode = kubeconfig.stat().st_ino
    emulator_script.write_whole(kubeconfig, emulator_script.kubeconfig_yaml("http://127.0.0.1:1"))
    # A new inode: the old file was replaced by a complete one, never truncated and rewritten.
    assert kubeconfig.stat().st_ino != stale_inode
    loaded = yaml.safe_load(kubeconfig.read_text())
    assert loaded["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1"
    assert sorted(p.name for p in kubeconfig.parent.iterdir()) == ["kubeconfig"]
