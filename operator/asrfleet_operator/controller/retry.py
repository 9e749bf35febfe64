"""Retries of an event-triggered reconcile: transient failures (429, 5xx, connection errors)
are retried with exponential backoff, at least as long as the error asks (`delay` of a
kopf.TemporaryError, children.classify); after the last attempt the resync sweep (sweep.py)
tries again. Permanent problems never get here: `reconcile` reports them as Degraded."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.reconcile import Logger, reconcile_and_report

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # then the sweep's next pass
_sleep = asyncio.sleep  # the tests replace it


def retry_delay(exc: Exception, backoff: float) -> float:
    """How long to wait after `exc`: the backoff, or longer when the error asks for it."""
    return max(backoff, float(getattr(exc, "delay", None) or 0.0))


async def reconcile_with_retry(
    ctx: Context, obj: Mapping[str, Any], logger: Logger, *, fresh: bool = False
) -> None:
    for attempt, backoff in enumerate((*RETRY_DELAYS, None)):
        try:
            await reconcile_and_report(ctx, obj, logger, fresh=fresh and attempt == 0)
            return
        except Exception as exc:  # 429/5xx/connection errors (kopf.TemporaryError and others)
            if backoff is None:
                logger.error(
                    f"reconcile failed {attempt + 1} times, last: {exc!r}; the resync sweep"
                    " tries again at its next pass"
                )
                return
            wait = retry_delay(exc, backoff)
            logger.warning(f"reconcile failed: {exc!r}; retrying in {wait:g}s")
            await _sleep(wait)
