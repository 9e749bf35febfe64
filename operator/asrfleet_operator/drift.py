"""Drift correction: one operator-wide loop that re-applies every SpeechRecognizer's desired
state each `ASRFLEET_RESYNC_SECONDS`, so hand edits to managed fields are undone.

It replaces kopf's per-object `@kopf.timer`: a timer is a task per SpeechRecognizer that kopf
spawns, tracks and checks on every event of the object (and marks with an annotation), which
was a measurable part of the operator's CPU per SpeechRecognizer (bench/operator_scale.py).
Here a sweep lists the SpeechRecognizers (one LIST per watched namespace, paged) and runs the
same `reconcile` on each, one after the other; the next sweep starts an interval after the
previous one ended, so sweeps never overlap. A failure (one object, or the LIST) is logged and
the next sweep tries again. Objects being deleted are skipped. A sweep holding an older
generation than a concurrent update handler writes nothing (`Context.is_stale`).

Not kept from kopf's timer: the peering pause (kopf has no public API for it; see watch.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import kopf

from asrfleet_operator.reconcile import SPEECH_RECOGNIZERS, Context
from asrfleet_operator.sync import reconcile_and_report

logger = logging.getLogger(__name__)


async def list_speech_recognizers(
    ctx: Context, namespace: str | None, page_size: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """Every SpeechRecognizer in `namespace` (all when None), page by page."""
    async for page in ctx.client.list_pages(SPEECH_RECOGNIZERS, namespace, page_size=page_size):
        for item in page.get("items") or []:
            yield item


async def correct_drift(ctx: Context, raw: Mapping[str, Any]) -> None:
    """One drift reconcile of a listed SpeechRecognizer; its status written only if changed."""
    if (raw.get("metadata") or {}).get("deletionTimestamp"):
        return  # going away: nothing to correct
    body = kopf.Body(cast(kopf.RawBody, dict(raw)))
    await reconcile_and_report(ctx, body, logger, drift_check=True)


async def sweep(ctx: Context) -> int:
    """Reconcile every SpeechRecognizer once; how many were reconciled without error."""
    done = 0
    for namespace in ctx.settings.namespaces or (None,):
        try:
            async for raw in list_speech_recognizers(ctx, namespace):
                try:
                    await correct_drift(ctx, raw)
                    done += 1
                except Exception as exc:  # one bad object must not stop the sweep
                    name = (raw.get("metadata") or {}).get("name")
                    logger.warning(f"drift correction of {name}: {exc!r}")
        except Exception as exc:
            logger.warning(f"listing SpeechRecognizers in {namespace or 'all namespaces'}: {exc!r}")
    return done


async def drift_loop(ctx: Context) -> None:
    """Sweep every `resync_seconds` until cancelled (the operator's cleanup cancels it)."""
    await ctx.client.logged_in.wait()
    while True:
        await asyncio.sleep(ctx.settings.resync_seconds)
        await sweep(ctx)
