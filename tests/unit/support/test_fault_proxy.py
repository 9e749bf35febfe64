"""The fault proxy's draw: a run injects every kind of fault, however few its watches."""

from __future__ import annotations

from pathlib import Path

import yaml
from support.fault_proxy import ALL_FAULTS, Fault, FaultPlan, FaultProxy

WATCH = "/apis/asrfleet.io/v1alpha1/speechrecognizers"


def test_the_first_watch_that_starts_well_is_cut_however_low_the_rate() -> None:
    proxy = FaultProxy("http://127.0.0.1:1", FaultPlan(rate=0.01, seed=3))
    assert proxy._pick("GET", WATCH, watch=True) is Fault.CUT
    later = [proxy._pick("GET", WATCH, watch=True) for _ in range(20)]
    assert later.count(Fault.CUT) < 5  # then at the plan's rate


def test_every_kind_is_drawn_before_any_kind_twice() -> None:
    proxy = FaultProxy("http://127.0.0.1:1", FaultPlan(rate=1.0, seed=14))
    writes = [proxy._pick("PATCH", "/api/v1/services", watch=False) for _ in range(6)]
    assert set(writes) == set(ALL_FAULTS) - {Fault.GONE, Fault.CUT}  # all a write can get
    assert proxy._pick("GET", WATCH, watch=True) is Fault.GONE  # the one left for a watch


def test_a_rotated_kubeconfig_is_replaced_whole(tmp_path: Path) -> None:
    proxy = FaultProxy("http://127.0.0.1:1", FaultPlan())
    proxy.url = "http://127.0.0.1:2"
    path = proxy.write_kubeconfig(tmp_path / "kubeconfig", token="token-1")
    inode = path.stat().st_ino
    proxy.write_kubeconfig(path, token="token-2")
    assert path.stat().st_ino != inode  # renamed into place, never truncated and refilled
    assert yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == "token-2"
    assert [p.name for p in tmp_path.iterdir()] == ["kubeconfig"]
