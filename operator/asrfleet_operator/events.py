"""Kubernetes Events about a SpeechRecognizer, posted on the operator's own client.

One POST per Event, sent in the background so a reconcile never waits for it (as kopf's
`kopf.event` does, but without kopf's poster queue and API wrappers: cheaper per Event, and it
works outside kopf's handler context, e.g. from the resync sweep). A failed post is logged and
dropped: an Event is a notice, never state.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.kube import KubeClient, Resource
from asrfleet_operator.render.labels import API_VERSION, KIND, MANAGER

EVENTS = Resource("v1", "events")
MAX_MESSAGE = 1000
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

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, owner: Mapping[str, Any], type: str, reason: str, message: str) -> None:
        now = datetime.datetime.now(datetime.UTC)
        body = event_manifest(owner, type, reason, message, now)
        task = asyncio.get_running_loop().create_task(self._send(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, body: dict[str, Any]) -> None:
        try:
            await self.client.create(EVENTS, str(body["metadata"]["namespace"]), body)
        except Exception as exc:  # a lost notice, nothing to retry
            logger.warning(f"posting Event {body['reason']}: {exc!r}")

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
