"""The operator running in-process (kopf) against the kmock API emulator, driven by kubectl."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import kopf
import pytest
from asrfleet_operator.controller import Context, register
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.settings import Settings
from support.kube_emulator import SERVICE_MONITOR_CRD, running_emulator
from support.operator_cluster import CRD_PATH, MODEL_CRD_PATH, RESYNC_SECONDS, Cluster


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with running_emulator(
        [CRD_PATH, MODEL_CRD_PATH], extra_crds=[SERVICE_MONITOR_CRD]
    ) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        settings = Settings(resync_seconds=RESYNC_SECONDS, health_port=0)
        ctx = Context(settings=settings, client=KubeClient())
        registry = kopf.OperatorRegistry()
        register(registry, ctx, login=emu.connection_info)
        stop, ready = asyncio.Event(), asyncio.Event()
        os.environ.pop("KUBECONFIG", None)
        operator = asyncio.create_task(
            kopf.operator(
                registry=registry,
                clusterwide=True,
                standalone=True,
                stop_flag=stop,
                ready_flag=ready,
            )
        )
        await asyncio.wait_for(ready.wait(), timeout=30)
        try:
            yield Cluster(emu=emu, kubeconfig=kubeconfig, ctx=ctx, tmp=tmp_path)
        finally:
            stop.set()
            # kopf would stop its watchers gracefully, but kmock's watch streams never end on
            # their own: a second's grace (five cost ~2 min of the suite), then cancel.
            done, _ = await asyncio.wait([operator], timeout=1)
            if not done:
                operator.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await operator
            await ctx.client.close()
