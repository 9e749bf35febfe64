"""Change detection: which SpeechRecognizer events lead to a reconcile.

Decided as Kubernetes' own controllers decide it, from the object alone, with no bookkeeping
written to the API (kopf's create/update/resume handlers keep a copy of the last handled spec
and their progress in annotations, diffed and patched on every event: more CPU per
SpeechRecognizer than the reconcile itself, bench/operator_scale.py):

- the first time this process sees an object (its creation, or every object when the operator
  starts): reconcile. A new object without any status yet is reconciled as `fresh` (children
  created without reading them first; a 409 falls back to converging);
- afterwards only when `metadata.generation` differs from `status.observedGeneration` (the spec
  changed since the last reconcile reported). The operator's own status write comes back as
  an event with equal generations and costs nothing;
- deleted or deleting objects: nothing (ownerReferences let the garbage collector remove the
  children).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.reconcile import SPEECH_RECOGNIZERS, Logger
from asrfleet_operator.controller.retry import reconcile_with_retry
from asrfleet_operator.kube import ApiError
from asrfleet_operator.render.labels import GROUP

OLD_FINALIZER = f"{GROUP}/finalizer"  # put by versions that ran the drift timer through kopf


def needs_reconcile(ctx: Context, obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    if meta.get("uid") not in ctx.seen:
        return True
    observed = (obj.get("status") or {}).get("observedGeneration")
    return bool(observed != meta.get("generation"))


async def on_event(ctx: Context, obj: Mapping[str, Any], type: str | None, logger: Logger) -> None:
    """Handle one watch event of a SpeechRecognizer (`type` None: listed at start-up)."""
    meta = obj.get("metadata") or {}
    uid = meta.get("uid")
    if type == "DELETED":
        ctx.seen.discard(uid)
        return
    if OLD_FINALIZER in (meta.get("finalizers") or []):
        await drop_old_finalizer(ctx, obj, logger)
    if not needs_reconcile(ctx, obj):
        return
    fresh = uid not in ctx.seen and not obj.get("status")
    ctx.seen.add(uid)
    await reconcile_with_retry(ctx, obj, logger, fresh=fresh)


async def drop_old_finalizer(ctx: Context, obj: Mapping[str, Any], logger: Logger) -> None:
    """Remove the finalizer earlier versions put (nothing needs it now), so it never blocks a
    deletion. A JSON patch that tests the list first: other controllers' finalizers are safe."""
    meta = obj["metadata"]
    current = list(meta.get("finalizers") or [])
    ops = [
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {
            "op": "replace",
            "path": "/metadata/finalizers",
            "value": [f for f in current if f != OLD_FINALIZER],
        },
    ]
    path = SPEECH_RECOGNIZERS.path(str(meta["namespace"]), str(meta["name"]))
    try:
        await ctx.client.request("PATCH", path, ops, "application/json-patch+json")
    except ApiError as exc:  # the list changed meanwhile: the next event tries again
        logger.info(f"removing the finalizer {OLD_FINALIZER}: {exc}")
