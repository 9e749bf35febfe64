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
    refresh_status_from_deployment,
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


def child_writes(emu: EmulatorHandle) -> list[Any]:
    """Writes to the children (not to the SpeechRecognizer, not Events)."""
    return [
        r
        for r in list(emu.emulator)
        if r.method.value in ("POST", "PATCH", "DELETE")
        and "/speechrecognizers" not in r.url.path
        and "/events" not in r.url.path
    ]


@pytest.mark.parametrize("replaced", [False, True], ids=["deleted", "replaced"])
async def test_nothing_is_written_for_a_parent_deleted_or_replaced_since_it_was_read(
    api: tuple[EmulatorHandle, Context], replaced: bool
) -> None:
    """A sweep's or a retry's body may be old: the parent is read again before any write;
    one replaced under the same name (a new uid) gets nothing from the old body either."""
    emu, ctx = api
    old = await created(ctx, sample_sr())
    await ctx.client.delete(SPEECH_RECOGNIZERS, "default", "english")
    if replaced:
        await created(ctx, sample_sr())
    await reconcile_and_report(ctx, old, LOG)  # the body still says it exists
    assert child_writes(emu) == [] and emu.get(DEPLOYMENTS, "default", "english") is None
    assert status_writes(emu) == []


async def reconciled_then_edited(ctx: Context) -> dict[str, Any]:
    """A SpeechRecognizer reconciled at generation 1, then edited (generation 2); its body as
    it was at generation 1."""
    old = await created(ctx, sample_sr())
    await reconcile_and_report(ctx, old, LOG, fresh=True)
    path = SPEECH_RECOGNIZERS.path("default", "english")
    await ctx.client.request(
        "PATCH", path, {"spec": {"replicas": 3}}, "application/merge-patch+json"
    )
    return old


async def test_a_newer_generation_is_reconciled_instead_of_the_old_body(
    api: tuple[EmulatorHandle, Context],
) -> None:
    emu, ctx = api
    old = await reconciled_then_edited(ctx)
    await reconcile_and_report(ctx, old, LOG)  # the old body, generation 1
    dep = emu.get(DEPLOYMENTS, "default", "english")
    assert dep is not None and dep["spec"]["replicas"] == 3
    stored = emu.get(SRS, "default", "english")
    assert stored is not None and stored["status"]["observedGeneration"] == 2


async def test_a_deployment_event_does_not_report_an_unreconciled_generation(
    api: tuple[EmulatorHandle, Context],
) -> None:
    """Else the change detection would take the new generation as reconciled and skip it."""
    emu, ctx = api
    await reconciled_then_edited(ctx)
    dep = emu.get(DEPLOYMENTS, "default", "english")
    assert dep is not None
    dep["status"] = {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1}
    before = len(status_writes(emu))
    await refresh_status_from_deployment(ctx, dep, LOG)
    assert len(status_writes(emu)) == before
    stored = emu.get(SRS, "default", "english")
    assert stored is not None and stored["status"]["observedGeneration"] == 1
