"""Which SpeechRecognizer events lead to a reconcile (changes.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import kopf
import pytest
from asrfleet_operator.controller import changes, retry
from asrfleet_operator.controller.context import Context

LOG = logging.getLogger("test")
MakeSR = Callable[..., kopf.Body]  # the `sr` fixture (conftest.py)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    async def fake(ctx: Context, body: kopf.Body, logger: Any, **kw: Any) -> None:
        made.append(kw)

    monkeypatch.setattr(retry, "reconcile_and_report", fake)
    return made


async def test_first_sight_then_only_spec_changes(
    calls: list[dict[str, Any]], ctx: Context, sr: MakeSR
) -> None:
    await changes.on_event(ctx, sr(1), "ADDED", LOG)  # new: no status yet
    assert calls == [{"fresh": True}]
    await changes.on_event(ctx, sr(1, observed=1), "MODIFIED", LOG)  # our own status write
    assert len(calls) == 1
    await changes.on_event(ctx, sr(2, observed=1), "MODIFIED", LOG)  # spec edited
    assert calls[-1] == {"fresh": False}
    await changes.on_event(ctx, sr(2, observed=2), "DELETED", LOG)
    await changes.on_event(ctx, sr(2, observed=2, deletionTimestamp="now"), "MODIFIED", LOG)
    assert len(calls) == 2


async def test_resume_reconciles_every_object_once_when_the_operator_starts(
    calls: list[dict[str, Any]], ctx: Context, sr: MakeSR
) -> None:
    await changes.on_event(ctx, sr(3, observed=3), None, LOG)  # listed at start, up to date
    assert calls == [{"fresh": False}]  # children may have drifted while it was down
    await changes.on_event(ctx, sr(3, observed=3), "MODIFIED", LOG)
    assert len(calls) == 1
