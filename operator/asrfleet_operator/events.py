"""Kubernetes Events about a SpeechRecognizer, posted on the operator's own client.

One POST per Event, sent in the background so a reconcile never waits for it (as kopf's
`kopf.event` does, but without kopf's poster queue and API wrappers: cheaper per Event, and it
works outside kopf's handler context, e.g. from the resync sweep).

A post that fails transiently (429, 5xx, a reset, a timeout) is tried again, `ATTEMPTS` times
in all, after a jittered backoff or the Retry-After asked; then it is logged and dropped: an
Event is a notice, never state. (A post whose answer was lost may show up twice.) A refused
one (400/403/404/422: a namespace being deleted, RBAC) and one the operator may not write any
more (NotLeader) are dropped at once. At most `MAX_PENDING` Events wait at a time; beyond
that new ones are dropped and counted (`dropped`), so an API outage cannot grow memory.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.kube import ApiError, KubeClient, NotLeader, Resource
from asrfleet_operator.render.labels import API_VERSION, KIND, MANAGER

EVENTS = Resource("v1", "events")
MAX_MESSAGE = 1000
ATTEMPTS = 4
BACKOFF = 1.0  # doubles per attempt, jittered into its upper half
MAX_PENDING = 1000
PERMANENT = frozenset({400, 403, 404, 422})
logger = logging.getLogger(__name__)


def event_manifest(
    owner: Mapping[str, Any], type: str, reason: str, message: str, now: datetime.datetime
) -> dict[str, Any]:
    """A core/v1 Event about `owner` (a SpeechRecognizer as the API server returned it)."""
    meta = owner.get("metadata") or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": owner.get("apiVersion", API_VERSION),
            "kind": owner.get("kind", KIND),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "type": type,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "source": {"component": MANAGER},
        "reportingComponent": MANAGER,
        "reportingInstance": MANAGER,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventPoster:
    """Posts Events in the background; `drain()` waits for those still in flight."""

    def __init__(
        self, client: KubeClient, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff = backoff
        self.dropped = 0  # Events given up on (failed every attempt, refused, or too many)
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, owner: Mapping[str, Any], type: str, reason: str, message: str) -> None:
        if len(self._tasks) >= MAX_PENDING:
            self.dropped += 1
            logger.warning(f"Event {reason} dropped: {MAX_PENDING} Events are waiting already")
            return
        now = datetime.datetime.now(datetime.UTC)
        body = event_manifest(owner, type, reason, message, now)
        task = asyncio.get_running_loop().create_task(self._send(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, body: dict[str, Any]) -> None:
        namespace = str(body["metadata"]["namespace"])
        for attempt in range(self.attempts):
            try:
                await self.client.create(EVENTS, namespace, body)
                return
            except NotLeader:
                break  # the leader reports from now on
            except ApiError as exc:
                if exc.status in PERMANENT:
                    logger.warning(f"Event {body['reason']} refused: {exc}")
                    break
                failure: Exception = exc
            except Exception as exc:  # a reset, a timeout
                failure = exc
            if attempt + 1 == self.attempts:
                logger.warning(
                    f"Event {body['reason']} dropped after {self.attempts} attempts: {failure!r}"
                )
                break
            backoff = self.backoff * 2**attempt
            asked = min(
                getattr(failure, "retry_after", None) or 0.0, self.client.retry.max_retry_after
            )
            await asyncio.sleep(max(random.uniform(backoff / 2, backoff), asked))
        self.dropped += 1

    async def drain(self, within: float | None = None) -> None:
        """Wait for the Events in flight (at most `within` seconds; the rest are dropped)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=within)
        for task in pending:
            task.cancel()
        if pending:
            self.dropped += len(pending)
            await asyncio.wait(pending)
