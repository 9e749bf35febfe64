"""scripts/kube_emulator.py: the kubeconfig appears whole (readers poll for it to exist, so a
file created empty and filled later is read as empty, as CI once did)."""

from __future__ import annotations

from pathlib import Path

import kube_emulator
import yaml


def test_the_kubeconfig_is_renamed_into_place_not_filled_in_place(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "state" / "kubeconfig"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text("stale")
    stale_inode = kubeconfig.stat().st_ino
    kube_emulator.write_whole(kubeconfig, kube_emulator.kubeconfig_yaml("http://127.0.0.1:1"))
    # A new inode: the old file was replaced by a complete one, never truncated and rewritten.
    assert kubeconfig.stat().st_ino != stale_inode
    loaded = yaml.safe_load(kubeconfig.read_text())
    assert loaded["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1"
    assert sorted(p.name for p in kubeconfig.parent.iterdir()) == ["kubeconfig"]
