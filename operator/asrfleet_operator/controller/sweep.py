"""The resync sweep: every `ASRFLEET_RESYNC_SECONDS`, reconcile every SpeechRecognizer, so hand
edits to managed fields are undone (Events `DriftCorrected`) and what an event-triggered
reconcile gave up on is tried again. The SpeechModels are swept after them (speech_models.py).

One operator-wide loop, not a task per object (a kopf timer per SpeechRecognizer was a
measurable part of the operator's CPU per object, bench/operator_scale.py). A sweep lists the
SpeechRecognizers (one paged LIST per watched namespace) and reconciles each, one after the
other; the next sweep starts an interval after the previous one ended, so sweeps never
overlap. A failure (one object, or the LIST) is logged and the next sweep tries again. Objects
being deleted are skipped. A sweep holding an older generation than a concurrent
event-triggered reconcile writes nothing (`Context.is_stale`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.reconcile import SPEECH_RECOGNIZERS, reconcile_and_report
from asrfleet_operator.controller.speech_models import sweep_speech_models

logger = logging.getLogger(__name__)


async def list_speech_recognizers(
    ctx: Context, namespace: str | None, page_size: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """Every SpeechRecognizer in `namespace` (all when None), page by page."""
    async for page in ctx.client.list_pages(SPEECH_RECOGNIZERS, namespace, page_size=page_size):
        for item in page.get("items") or []:
            yield item


async def correct_drift(ctx: Context, obj: Mapping[str, Any]) -> None:
    """One sweep reconcile of a listed SpeechRecognizer; its status written only if changed."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return  # going away: nothing to correct
    await reconcile_and_report(ctx, obj, logger, drift_check=True)


async def sweep(ctx: Context) -> int:
    """Reconcile every SpeechRecognizer once; how many were reconciled without error."""
    done = 0
    for namespace in ctx.settings.namespaces or (None,):
        try:
            async for obj in list_speech_recognizers(ctx, namespace):
                try:
                    await correct_drift(ctx, obj)
                    done += 1
                except Exception as exc:  # one bad object must not stop the sweep
                    name = (obj.get("metadata") or {}).get("name")
                    logger.warning(f"drift correction of {name}: {exc!r}")
        except Exception as exc:
            logger.warning(f"listing SpeechRecognizers in {namespace or 'all namespaces'}: {exc!r}")
    await sweep_speech_models(ctx, logger)
    return done


async def sweep_loop(ctx: Context) -> None:
    """Sweep every `resync_seconds` until cancelled (the operator's cleanup cancels it)."""
    await ctx.client.logged_in.wait()
    while True:
        await asyncio.sleep(ctx.settings.resync_seconds)
        await sweep(ctx)
