"""What a SpeechRecognizer event leads to: a reconcile when the spec moved on, else nothing.

The operator reacts to SpeechRecognizer events with one `@kopf.on.event` handler that calls
`on_event` here, instead of kopf's create/update/resume handlers. Those need kopf's change
detection: a copy of the last handled spec in an annotation (written with one more PATCH per
change) and per-handler progress annotations, each diffed and rewritten in every event cycle;
that bookkeeping cost more CPU per SpeechRecognizer than the reconcile itself
(bench/operator_scale.py). The decision is made as Kubernetes' own controllers make it:

- the first time this process sees an object (its creation, or every object when the operator
  starts: kopf's "resume"): reconcile. A new object without any status yet is reconciled as
  `fresh` (children created without reading them first; 409 falls back to converging);
- afterwards only when `metadata.generation` differs from `status.observedGeneration` (the spec
  changed since the last reconcile reported). The operator's own status write comes back as
  an event with equal generations and costs nothing;
- deleting objects: nothing (ownerReferences let the garbage collector remove the children).

Transient failures (429, 5xx, connection errors) are retried here with exponential backoff
(kopf's retries belonged to the handlers this replaces); after the last attempt the drift loop
(drift.py) tries again at its next sweep. Permanent problems (bad spec, rejected child) are
reported by `reconcile` as condition Degraded, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from asrfleet_operator.kube import ApiError
from asrfleet_operator.metrics import measured
from asrfleet_operator.reconcile import SPEECH_RECOGNIZERS, Context, reconcile
from asrfleet_operator.render.labels import GROUP

Logger = logging.Logger | logging.LoggerAdapter[Any]
OLD_FINALIZER = f"{GROUP}/finalizer"  # put by versions that ran the drift timer through kopf
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # then the drift loop's next sweep
_sleep = asyncio.sleep  # the tests replace it


def needs_reconcile(ctx: Context, body: Mapping[str, Any]) -> bool:
    meta = body.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    if meta.get("uid") not in ctx.seen:
        return True
    observed = (body.get("status") or {}).get("observedGeneration")
    return bool(observed != meta.get("generation"))


async def on_event(ctx: Context, body: kopf.Body, type: str | None, logger: Logger) -> None:
    """Handle one watch event of a SpeechRecognizer."""
    uid = body.metadata.uid
    if type == "DELETED":
        ctx.seen.discard(uid)
        return
    if OLD_FINALIZER in (body.metadata.get("finalizers") or []):
        await drop_old_finalizer(ctx, body, logger)
    if not needs_reconcile(ctx, body):
        return
    fresh = uid not in ctx.seen and not body.get("status")
    ctx.seen.add(uid)
    await reconcile_with_retry(ctx, body, logger, fresh=fresh)


async def drop_old_finalizer(ctx: Context, body: kopf.Body, logger: Logger) -> None:
    """Remove the finalizer earlier versions put (nothing needs it now), so it never blocks a
    deletion. A JSON patch that tests the list first: other controllers' finalizers are safe."""
    current = list(body.metadata.get("finalizers") or [])
    ops = [
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {
            "op": "replace",
            "path": "/metadata/finalizers",
            "value": [f for f in current if f != OLD_FINALIZER],
        },
    ]
    path = SPEECH_RECOGNIZERS.path(str(body.metadata.namespace), str(body.metadata.name))
    try:
        await ctx.client.request("PATCH", path, ops, "application/json-patch+json")
    except ApiError as exc:  # the list changed meanwhile: the next event tries again
        logger.info(f"removing the finalizer {OLD_FINALIZER}: {exc}")


async def reconcile_with_retry(
    ctx: Context, body: kopf.Body, logger: Logger, *, fresh: bool = False
) -> None:
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            await reconcile_and_report(ctx, body, logger, fresh=fresh and attempt == 0)
            return
        except Exception as exc:  # 429/5xx/connection errors (kopf.TemporaryError and others)
            if delay is None:
                logger.error(
                    f"reconcile failed {attempt + 1} times, last: {exc!r}; the drift"
                    " loop tries again at its next sweep"
                )
                return
            wait = max(delay, float(getattr(exc, "delay", None) or 0.0))
            logger.warning(f"reconcile failed: {exc!r}; retrying in {wait:g}s")
            await _sleep(wait)


async def reconcile_and_report(
    ctx: Context, body: kopf.Body, logger: Logger, *, fresh: bool = False, drift_check: bool = False
) -> None:
    """Reconcile, then write the status when it changed (one merge-patch of /status)."""
    async with measured("drift" if drift_check else "event"):
        patch = kopf.Patch()
        await reconcile(ctx, body, patch, logger, fresh=fresh, drift_check=drift_check)
        status = patch.get("status")
        if status:
            meta = body.metadata
            path = SPEECH_RECOGNIZERS.path(str(meta.namespace), str(meta.name)) + "/status"
            patched = {"status": status}
            await ctx.client.request("PATCH", path, patched, "application/merge-patch+json")
