"""Retries of an event-triggered reconcile: transient failures (429, 5xx, connection errors,
timeouts) are retried after 1, 2, 4 ... 32 s, each wait jittered (drawn from its upper half,
so objects that failed together do not retry together) and at least as long as a 429's
Retry-After asked (`delay` of a kopf.TemporaryError, children.classify; `retry_after` of an
ApiError), up to `max_retry_after`. After the last attempt the resync sweep (sweep.py) tries
again. Permanent problems never get here: `reconcile` reports them as Degraded. A parent that
is gone ends the work inside `reconcile_and_report` (each attempt re-reads it before writing),
and so does the end of leadership (NotLeader: nothing may be written any more).

Each attempt holds one of the context's reconcile slots (`Context.slots`); the waits between
attempts hold none.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.reconcile import Logger, reconcile_and_report
from asrfleet_operator.kube import NotLeader

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # then the sweep's next pass
_sleep = asyncio.sleep  # the tests replace it
_jitter = random.Random()


def retry_delay(exc: Exception, backoff: float, max_retry_after: float = 60.0) -> float:
    """How long to wait after `exc`: the backoff, jittered into [backoff/2, backoff], or longer
    when the error asks for it (bounded by `max_retry_after`)."""
    asked = getattr(exc, "delay", None) or getattr(exc, "retry_after", None) or 0.0
    return max(_jitter.uniform(backoff / 2, backoff), min(float(asked), max_retry_after))


async def reconcile_with_retry(
    ctx: Context, obj: Mapping[str, Any], logger: Logger, *, fresh: bool = False
) -> None:
    for attempt, backoff in enumerate((*RETRY_DELAYS, None)):
        try:
            async with ctx.slots:
                await reconcile_and_report(ctx, obj, logger, fresh=fresh and attempt == 0)
            return
        except NotLeader:
            logger.info("not the leader any more: the new leader reconciles this object")
            return
        except Exception as exc:  # 429/5xx/connection errors (kopf.TemporaryError and others)
            if backoff is None:
                logger.error(
                    f"reconcile failed {attempt + 1} times, last: {exc!r}; the resync sweep"
                    " tries again at its next pass"
                )
                return
            wait = retry_delay(exc, backoff, ctx.settings.max_retry_after_seconds)
            logger.warning(f"reconcile failed: {exc!r}; retrying in {wait:.1f}s")
            await _sleep(wait)
