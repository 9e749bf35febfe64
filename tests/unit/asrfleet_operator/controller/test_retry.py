"""Retries of an event-triggered reconcile (retry.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import kopf
import pytest
from asrfleet_operator.controller import retry
from asrfleet_operator.controller.context import Context

LOG = logging.getLogger("test")
MakeSR = Callable[..., kopf.Body]  # the `sr` fixture (conftest.py)


async def test_transient_errors_are_retried_with_backoff(
    monkeypatch: pytest.MonkeyPatch, ctx: Context, sr: MakeSR
) -> None:
    attempts: list[bool] = []
    sleeps: list[float] = []

    async def flaky(ctx: Context, body: kopf.Body, logger: Any, *, fresh: bool = False) -> None:
        attempts.append(fresh)
        if len(attempts) < 3:
            raise kopf.TemporaryError("503", delay=5.0 if len(attempts) == 2 else 0.1)

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(retry, "reconcile_and_report", flaky)
    monkeypatch.setattr(retry, "_sleep", no_sleep)
    await retry.reconcile_with_retry(ctx, sr(1), LOG, fresh=True)
    assert attempts == [True, False, False]  # a retry reads first: some children may exist
    assert sleeps == [1.0, 5.0]  # exponential, or longer when the error asks (429)
