"""The resync sweep (sweep.py): objects reconciled concurrently within the bound, so one slow
object does not hold up the others; one failing object does not end the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from asrfleet_operator.controller import sweep as sweeping
from asrfleet_operator.controller.context import Context
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.settings import Settings


def listed(count: int) -> list[dict[str, Any]]:
    return [{"metadata": {"name": f"sr-{i}", "namespace": "default"}} for i in range(count)]


@pytest.fixture
def ctx(monkeypatch: pytest.MonkeyPatch) -> Context:
    context = Context(settings=Settings(max_concurrent_reconciles=3), client=KubeClient())

    async def objects(ctx: Context, namespace: str | None) -> AsyncIterator[dict[str, Any]]:
        for obj in listed(12):
            yield obj

    monkeypatch.setattr(sweeping, "list_speech_recognizers", objects)
    return context


async def test_a_slow_object_does_not_hold_up_the_others_and_the_bound_holds(
    monkeypatch: pytest.MonkeyPatch, ctx: Context
) -> None:
    others_done = asyncio.Event()
    done: list[str] = []
    running = 0
    most = 0

    async def reconcile(ctx: Context, obj: Mapping[str, Any]) -> None:
        nonlocal running, most
        name = obj["metadata"]["name"]
        running += 1
        most = max(most, running)
        try:
            if name == "sr-0":
                await asyncio.wait_for(others_done.wait(), timeout=30)  # slow until the rest
            else:
                await asyncio.sleep(0.01)
                done.append(name)
                if len(done) == 11:
                    others_done.set()
        finally:
            running -= 1

    monkeypatch.setattr(sweeping, "correct_drift", reconcile)
    assert await sweeping.sweep(ctx) == 12
    assert len(done) == 11 and most == 3


async def test_a_failing_object_does_not_end_the_sweep(
    monkeypatch: pytest.MonkeyPatch, ctx: Context
) -> None:
    async def reconcile(ctx: Context, obj: Mapping[str, Any]) -> None:
        if obj["metadata"]["name"] == "sr-5":
            raise ConnectionResetError()

    monkeypatch.setattr(sweeping, "correct_drift", reconcile)
    assert await sweeping.sweep(ctx) == 11
