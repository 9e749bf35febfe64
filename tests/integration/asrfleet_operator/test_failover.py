"""Two operator processes against one emulator, each through its own (fault-free, recording)
proxy, with leader election on a Lease: the standby sends nothing but reads of the Lease while
the leader lives (no watch, no write); when the leader is killed (SIGKILL, as a node failure),
the standby takes over within the lease time and converges changes made since; on SIGTERM it
exits and releases the Lease."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from support.fault_proxy import FaultPlan, FaultProxy, running_fault_proxy
from support.kube_emulator import EmulatorHandle, running_emulator
from support.operator_cluster import CRD_PATH, DEPLOYMENTS, MODEL_CRD_PATH, SRS, sample_sr
from support.operator_process import OperatorProcess, operator_process

LEASE_SECONDS = 8.0
"""Renewals get 2/9 of it each (1.8 s): with 4 s, a machine at load 10 timed them out and
leadership flapped."""
SETTINGS = {
    "ASRFLEET_LEASE_NAME": "asrfleet-operator",
    "ASRFLEET_LEASE_SECONDS": str(LEASE_SECONDS),
    "ASRFLEET_LEASE_RETRY_SECONDS": "0.5",
    "ASRFLEET_RESYNC_SECONDS": "1",
}
SR_PATH = "/apis/asrfleet.io/v1alpha1/namespaces/default/speechrecognizers"
WAIT_SECONDS = 90.0  # generous: two Python processes start on a shared machine


async def until(check: Callable[[], Any], what: str, *ops: OperatorProcess) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        for op in ops:
            assert op.alive, f"an operator exited: {op.log_tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def converged(emu: EmulatorHandle, replicas: dict[str, int]) -> bool:
    for name, wanted in replicas.items():
        sr = emu.get(SRS, "default", name)
        dep = emu.get(DEPLOYMENTS, "default", name)
        if sr is None or dep is None or dep["spec"].get("replicas") != wanted:
            return False
        if (sr.get("status") or {}).get("observedGeneration") != sr["metadata"]["generation"]:
            return False
    return True


def lease_holder(emu: EmulatorHandle) -> str | None:
    lease = emu.get("coordination.k8s.io/v1/leases", "default", "asrfleet-operator")
    return (lease or {}).get("spec", {}).get("holderIdentity") or None


def not_lease_reads(proxy: FaultProxy) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in proxy.records
        if not (r.method == "GET" and "/leases/" in r.path and not r.is_watch)
    ]


async def create(http: aiohttp.ClientSession, name: str, replicas: int) -> None:
    body = json.dumps(sample_sr(name, replicas=replicas))
    headers = {"Content-Type": "application/json"}
    async with http.post(SR_PATH, data=body, headers=headers) as response:
        assert response.status < 300, await response.text()


async def test_the_standby_writes_nothing_and_takes_over_when_the_leader_dies(
    tmp_path: Path,
) -> None:
    async with (
        running_emulator([CRD_PATH, MODEL_CRD_PATH]) as emu,
        running_fault_proxy(emu.url, FaultPlan()) as to_a,
        running_fault_proxy(emu.url, FaultPlan()) as to_b,
        aiohttp.ClientSession(emu.url) as http,
    ):
        config_a = to_a.write_kubeconfig(tmp_path / "a.kubeconfig")
        config_b = to_b.write_kubeconfig(tmp_path / "b.kubeconfig")
        async with operator_process(config_a, tmp_path, "a", **SETTINGS) as a:
            await until(lambda: a.metric("asrfleet_operator_leader"), "a leads", a)
            async with operator_process(config_b, tmp_path, "b", **SETTINGS) as b:
                await until(b.healthy, "b is up", a, b)
                assert await b.metric("asrfleet_operator_leader") == 0
                replicas = {f"sr-{i}": 1 for i in range(4)}
                for name, count in replicas.items():
                    await create(http, name, count)
                await until(lambda: converged(emu, replicas), "a converges", a, b)
                await asyncio.sleep(2 * LEASE_SECONDS)  # b keeps reading the Lease meanwhile
                assert a.alive
                assert not_lease_reads(to_b) == []  # no watch, no write: nothing but the Lease
                assert any("/leases/" in r.path for r in to_b.records)
                holder = lease_holder(emu)

                a.kill()
                killed = time.monotonic()
                replicas.update({"sr-4": 1, "sr-5": 2})
                for name in ("sr-4", "sr-5"):
                    await create(http, name, replicas[name])
                await http.patch(
                    f"{SR_PATH}/sr-0",
                    data=json.dumps({"spec": {"replicas": 3}}),
                    headers={"Content-Type": "application/merge-patch+json"},
                )
                replicas["sr-0"] = 3
                await until(lambda: converged(emu, replicas), "b converges", b)
                assert await b.metric("asrfleet_operator_leader") == 1
                assert lease_holder(emu) not in (None, holder)
                took_over = next(
                    r.at for r in to_b.records if r.method == "PATCH" and "/leases/" in r.path
                )
                # Within the lease time, counted from the kill (a renewed at most one retry
                # period before), plus the standby's polling and a margin for a loaded machine.
                assert took_over - killed < LEASE_SECONDS + 10
                print(f"\ntakeover {took_over - killed:.1f}s after the leader was killed")

                b.proc.send_signal(signal.SIGTERM)  # a rolling update: it hands the Lease on
                assert await asyncio.wait_for(b.proc.wait(), timeout=WAIT_SECONDS) == 0
                assert lease_holder(emu) is None  # released: the next replica need not wait
