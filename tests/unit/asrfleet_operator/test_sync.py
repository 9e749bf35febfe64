"""When a SpeechRecognizer event leads to a reconcile (sync.py), retries, and the Events posted."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf
import pytest
from asrfleet_operator import sync
from asrfleet_operator.events import event_manifest
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.reconcile import Context
from asrfleet_operator.settings import Settings

LOG = logging.getLogger("test")


def sr(generation: int, observed: int | None = None, **meta: Any) -> kopf.Body:
    raw: dict[str, Any] = {
        "metadata": {"name": "en", "namespace": "default", "uid": "u1", "generation": generation}
    }
    raw["metadata"].update(meta)
    if observed is not None:
        raw["status"] = {"observedGeneration": observed}
    return kopf.Body(raw)  # type: ignore[arg-type]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    async def fake(ctx: Context, body: kopf.Body, logger: Any, **kw: Any) -> None:
        made.append(kw)

    monkeypatch.setattr(sync, "reconcile_and_report", fake)
    return made


def context() -> Context:
    return Context(settings=Settings(), client=KubeClient())


async def test_first_sight_then_only_spec_changes(calls: list[dict[str, Any]]) -> None:
    ctx = context()
    await sync.on_event(ctx, sr(1), "ADDED", LOG)  # new: no status yet
    assert calls == [{"fresh": True}]
    await sync.on_event(ctx, sr(1, observed=1), "MODIFIED", LOG)  # our own status write
    assert len(calls) == 1
    await sync.on_event(ctx, sr(2, observed=1), "MODIFIED", LOG)  # spec edited
    assert calls[-1] == {"fresh": False}
    await sync.on_event(ctx, sr(2, observed=2), "DELETED", LOG)
    await sync.on_event(ctx, sr(2, observed=2, deletionTimestamp="now"), "MODIFIED", LOG)
    assert len(calls) == 2


async def test_resume_reconciles_every_object_once_when_the_operator_starts(
    calls: list[dict[str, Any]],
) -> None:
    ctx = context()
    await sync.on_event(ctx, sr(3, observed=3), None, LOG)  # listed at start, up to date
    assert calls == [{"fresh": False}]  # children may have drifted while it was down
    await sync.on_event(ctx, sr(3, observed=3), "MODIFIED", LOG)
    assert len(calls) == 1


async def test_transient_errors_are_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[bool] = []
    sleeps: list[float] = []

    async def flaky(ctx: Context, body: kopf.Body, logger: Any, *, fresh: bool = False) -> None:
        attempts.append(fresh)
        if len(attempts) < 3:
            raise kopf.TemporaryError("503", delay=5.0 if len(attempts) == 2 else 0.1)

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(sync, "reconcile_and_report", flaky)
    monkeypatch.setattr(sync, "_sleep", no_sleep)
    await sync.reconcile_with_retry(context(), sr(1), LOG, fresh=True)
    assert attempts == [True, False, False]  # a retry reads first: some children may exist
    assert sleeps == [1.0, 5.0]  # exponential, or longer when the error asks (429)


def test_event_manifest_names_the_speech_recognizer() -> None:
    owner = {"metadata": {"name": "en", "namespace": "speech", "uid": "u1"}}
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    event = event_manifest(owner, "Warning", "InvalidSpec", "x" * 5000, now)
    assert event["involvedObject"] == {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "name": "en",
        "namespace": "speech",
        "uid": "u1",
    }
    assert event["metadata"] == {"generateName": "en.", "namespace": "speech"}
    assert (event["type"], event["reason"], len(event["message"])) == (
        "Warning",
        "InvalidSpec",
        1000,
    )
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-02T03:04:05Z"
