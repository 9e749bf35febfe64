"""Retries of an event-triggered reconcile (retry.py): jittered backoff, Retry-After honoured
up to its bound, and the end of the work when leadership ends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import kopf
import pytest
from asrfleet_operator.controller import retry
from asrfleet_operator.controller.context import Context
from asrfleet_operator.kube import ApiError, NotLeader

LOG = logging.getLogger("test")
MakeSR = Callable[..., kopf.Body]  # the `sr` fixture (conftest.py)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(retry, "_sleep", no_sleep)
    return waited


def failing(monkeypatch: pytest.MonkeyPatch, errors: list[Exception]) -> list[bool]:
    """reconcile_and_report raising `errors` one per attempt, then succeeding."""
    attempts: list[bool] = []

    async def flaky(ctx: Context, body: kopf.Body, logger: Any, *, fresh: bool = False) -> None:
        attempts.append(fresh)
        if errors:
            raise errors.pop(0)

    monkeypatch.setattr(retry, "reconcile_and_report", flaky)
    return attempts


async def test_transient_errors_are_retried_with_jittered_backoff(
    monkeypatch: pytest.MonkeyPatch, ctx: Context, sr: MakeSR, sleeps: list[float]
) -> None:
    errors: list[Exception] = [
        kopf.TemporaryError("503", delay=None),
        kopf.TemporaryError("429", delay=5.0),
        ApiError(503, "ServiceUnavailable", "busy"),
    ]
    attempts = failing(monkeypatch, errors)
    await retry.reconcile_with_retry(ctx, sr(1), LOG, fresh=True)
    assert attempts == [True, False, False, False]  # a retry reads first: some children exist
    assert 0.5 <= sleeps[0] <= 1.0  # the first backoff, jittered into its upper half
    assert sleeps[1] == 5.0  # longer when the error asks (a 429's Retry-After)
    assert 2.0 <= sleeps[2] <= 4.0


async def test_retry_after_is_honoured_up_to_its_bound(
    monkeypatch: pytest.MonkeyPatch, ctx: Context, sr: MakeSR, sleeps: list[float]
) -> None:
    failing(monkeypatch, [ApiError(429, "TooManyRequests", "", retry_after=3600.0)])
    await retry.reconcile_with_retry(ctx, sr(1), LOG)
    assert sleeps == [ctx.settings.max_retry_after_seconds]


async def test_gives_up_after_the_last_delay(
    monkeypatch: pytest.MonkeyPatch, ctx: Context, sr: MakeSR, sleeps: list[float]
) -> None:
    errors: list[Exception] = [ConnectionResetError()] * 20
    attempts = failing(monkeypatch, errors)
    await retry.reconcile_with_retry(ctx, sr(1), LOG)
    assert len(attempts) == len(retry.RETRY_DELAYS) + 1 and len(sleeps) == len(retry.RETRY_DELAYS)
    assert len(errors) == 20 - len(attempts)  # then left to the sweep


async def test_the_end_of_leadership_ends_the_work(
    monkeypatch: pytest.MonkeyPatch, ctx: Context, sr: MakeSR, sleeps: list[float]
) -> None:
    attempts = failing(monkeypatch, [NotLeader("PATCH ...")])
    await retry.reconcile_with_retry(ctx, sr(1), LOG)
    assert attempts == [False] and sleeps == []
