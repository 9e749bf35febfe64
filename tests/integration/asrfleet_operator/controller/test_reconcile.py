"""`reconcile` against the API emulator, called directly: it converges the children and returns
the new status without writing it; `reconcile_and_report` writes it with one merge-patch."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asrfleet_operator.controller import Context
from asrfleet_operator.controller.reconcile import (
    SPEECH_RECOGNIZERS,
    reconcile,
    reconcile_and_report,
)
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.settings import Settings
from support.kube_emulator import EmulatorHandle, running_emulator
from support.operator_cluster import CRD_PATH, DEPLOYMENTS, SERVICES, SRS, sample_sr

LOG = logging.getLogger("test")


@pytest.fixture
async def api() -> AsyncIterator[tuple[EmulatorHandle, Context]]:
    async with running_emulator([CRD_PATH]) as emu:
        ctx = Context(settings=Settings(), client=KubeClient(emu.connection_info()))
        try:
            yield emu, ctx
        finally:
            await ctx.events.drain()
            await ctx.client.close()


async def created(ctx: Context, manifest: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await ctx.client.create(SPEECH_RECOGNIZERS, "default", manifest)
    return result


def status_writes(emu: EmulatorHandle) -> list[Any]:
    return [
        r
        for r in list(emu.emulator)
        if r.method.value == "PATCH" and r.url.path.endswith("/status")
    ]


async def test_reconcile_returns_the_status_and_leaves_writing_it_to_the_caller(
    api: tuple[EmulatorHandle, Context],
) -> None:
    emu, ctx = api
    obj = await created(ctx, sample_sr())
    status = await reconcile(ctx, obj, LOG, fresh=True)
    assert status is not None and status["phase"] == "Pending"
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert emu.get(DEPLOYMENTS, "default", "english") is not None  # children converged
    assert emu.get(SERVICES, "default", "english") is not None
    assert status_writes(emu) == []  # the status is the caller's to write
    stored = emu.get(SRS, "default", "english")
    assert stored is not None and not stored.get("status")

    await reconcile_and_report(ctx, obj, LOG)
    stored = emu.get(SRS, "default", "english")
    assert stored is not None and stored["status"]["phase"] == "Pending"
    assert len(status_writes(emu)) == 1
    assert await reconcile(ctx, stored, LOG) is None  # nothing changed: nothing to write


async def test_an_invalid_spec_returns_a_degraded_status(
    api: tuple[EmulatorHandle, Context],
) -> None:
    _, ctx = api
    bad = sample_sr(model={"name": "whisper-tiny.en", "language": "zh"})
    obj = await created(ctx, bad)
    status = await reconcile(ctx, obj, LOG)
    assert status is not None and status["phase"] == "Degraded"
    [degraded] = [cond for cond in status["conditions"] if cond["type"] == "Degraded"]
    assert degraded["reason"] == "InvalidSpec" and "spec.model.language" in degraded["message"]
