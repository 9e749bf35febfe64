"""kopf behaviours the operator's runtime works around (controller/runtime.py; the report for
kopf is in docs/operator.md, "API faults"), pinned against kopf as installed (1.45.2): when one
of these tests fails after an upgrade, kopf changed, and the workaround may go.

1. A watch answered with HTTP 410 at its start (not as an in-stream ERROR event) ends
   `kopf.operator()` with that error: the operator must restart kopf, not exit.
2. Whenever kopf stops for any reason but its stop flag, a failure included, it arms a SIGKILL
   of the process `settings.process.ultimate_exiting_timeout` later: a restarted kopf would be
   killed minutes later unless the setting is None, which `handlers.configure_kopf` sets.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kopf
import pytest
from support.fault_proxy import FaultPlan, FaultProxy, running_fault_proxy
from support.kube_emulator import running_emulator
from support.operator_cluster import CRD_PATH

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def gone() -> AsyncIterator[FaultProxy]:
    """The emulator behind a proxy that answers every watch 410 Gone at its start."""
    async with (
        running_emulator([CRD_PATH]) as emu,
        running_fault_proxy(emu.url, FaultPlan()) as proxy,
    ):
        proxy.gone_until = time.monotonic() + 3600
        yield proxy


def registry_for(url: str) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, insecure=True)

    @kopf.on.event("asrfleet.io", "v1alpha1", "speechrecognizers", registry=registry)
    def event(**_: Any) -> None:
        pass

    return registry


async def test_kopf_stops_with_the_error_of_a_watch_answered_410_at_its_start(
    gone: FaultProxy,
) -> None:
    registry = registry_for(gone.url)
    with pytest.raises(Exception) as failed:  # kopf's error classes are private
        await asyncio.wait_for(
            kopf.operator(registry=registry, clusterwide=True, standalone=True), timeout=120
        )
    assert getattr(failed.value, "status", None) == 410
    assert any(r.is_watch and r.fault is not None for r in gone.records)


SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import kopf
    sys.path.insert(0, {tests!r})
    sys.path.insert(0, {operator!r})
    from asrfleet_operator.controller.handlers import configure_kopf

    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings, **_):
        if {ours!r}:
            configure_kopf(settings, 30.0)
        else:
            settings.process.ultimate_exiting_timeout = 1.0

    @kopf.on.login(registry=registry)
    def login(**_):
        return kopf.ConnectionInfo(server={url!r}, insecure=True)

    @kopf.on.event("asrfleet.io", "v1alpha1", "speechrecognizers", registry=registry)
    def event(**_):
        pass

    async def main():
        try:
            await kopf.operator(registry=registry, clusterwide=True, standalone=True)
        except Exception as exc:
            print("kopf failed", getattr(exc, "status", None), flush=True)
        await asyncio.sleep(4)
        print("survived", flush=True)

    asyncio.run(main())
    """
)


async def run_script(url: str, ours: bool) -> tuple[int, str]:
    code = SCRIPT.format(
        tests=str(REPO / "tests"), operator=str(REPO / "operator"), url=url, ours=ours
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_failed_kopf_arms_a_sigkill_unless_the_operator_disarms_it(
    gone: FaultProxy,
) -> None:
    (default_code, default_out), (ours_code, ours_out) = await asyncio.gather(
        run_script(gone.url, ours=False), run_script(gone.url, ours=True)
    )
    assert "kopf failed 410" in default_out and "survived" not in default_out
    assert default_code == -9  # SIGKILL, one second after the failure
    assert "kopf failed 410" in ours_out and "survived" in ours_out and ours_code == 0
