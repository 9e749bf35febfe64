"""The operator's own list + watch of the Deployments it manages: each new Deployment state is
handed to a handler (the controller refreshes the owning SpeechRecognizer's status from it:
pods became ready, a rollout stalled...).

A plain list + watch on the operator's aiohttp client (`kube.py`), because a kopf event handler
ran a full kopf event cycle per Deployment event (body views, causes, handler selection,
progress bookkeeping: ~2.3 ms CPU each in bench/operator_scale.py) for a handler that only
needs the object. The model:

- one stream per watched namespace (or one across all namespaces), with the managed-by label
  selector (and the same check client-side);
- resourceVersion bookkeeping: a stream the server ends (its timeout) resumes from the last
  version seen; bookmarks move that version on;
- 410 Gone (version too old, as an HTTP status or an ERROR event) -> list again at once;
- any other failure (a dropped connection, 5xx, 401/403) -> back off exponentially, then list
  again, so nothing missed while disconnected is lost;
- per-Deployment serialisation: events for one Deployment are handled one at a time, the newest
  state wins when several arrive meanwhile, different Deployments in parallel. A version
  already handled (a re-list, a re-sent event) is not handled again.

kopf's peering pause does not reach it (kopf exposes no public API for it). With several
replicas, a paused replica's watch keeps running; it only writes a SpeechRecognizer's status
when the status computed from the same objects differs from the stored one, so the active
replica's writes make its own writes no-ops (see docs/operator.md, HA).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from asrfleet_operator.kube import ApiError, KubeClient, Resource
from asrfleet_operator.render.labels import MANAGED_BY, MANAGER

DEPLOYMENTS = Resource("apps/v1", "deployments")
SELECTOR = f"{MANAGED_BY}={MANAGER}"
Key = tuple[str, str]
Handler = Callable[[dict[str, Any]], Awaitable[None]]
logger = logging.getLogger(__name__)


class Gone(Exception):
    """410: the resourceVersion is no longer served; list again."""


class DeploymentWatch:
    """List + watch the managed Deployments and call `handler` with each new state (another
    managed kind with `resource`: the SpeechModels' download Jobs)."""

    def __init__(
        self,
        client: KubeClient,
        namespaces: Sequence[str],
        handler: Handler,
        *,
        server_timeout: int = 300,
        backoff: tuple[float, float] = (0.5, 30.0),
        page_size: int = 500,
        resource: Resource = DEPLOYMENTS,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespaces = tuple(namespaces)  # empty: all namespaces, one stream
        self.handler = handler
        self.server_timeout = server_timeout
        self.backoff = backoff
        self.page_size = page_size
        self.lists = 0  # (re-)lists made, for logs and tests
        self._seen: dict[Key, str | None] = {}  # Deployment -> resourceVersion last dispatched
        self._pending: dict[Key, dict[str, Any]] = {}
        self._busy: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Watch until cancelled (the operator's cleanup cancels it)."""
        await self.client.logged_in.wait()
        try:
            async with asyncio.TaskGroup() as group:
                for namespace in self.namespaces or (None,):
                    group.create_task(self._follow(namespace))
        finally:
            for task in self._tasks:
                task.cancel()

    async def _follow(self, namespace: str | None) -> None:
        where = f"{self.resource.plural}, {namespace or 'all namespaces'}"
        version: str | None = None
        delay = self.backoff[0]
        loop = asyncio.get_running_loop()
        while True:
            started, failed = loop.time(), False
            try:
                if version is None:
                    version = await self._list(namespace)
                version = await self._watch(namespace, version)
            except Gone:
                logger.info(f"watch ({where}): 410 Gone, listing again")
                version = None
            except Exception as exc:  # never let one failure end the watch
                logger.warning(f"watch ({where}) failed: {exc!r}; retry in {delay:g}s")
                version, failed = None, True  # list again: events may have been missed
            if failed or loop.time() - started < 1.0:  # errors, and streams that end at once
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
            else:
                delay = self.backoff[0]

    async def _list(self, namespace: str | None) -> str | None:
        """Dispatch every managed Deployment not yet seen at its version; the list's version."""
        self.lists += 1
        pages = self.client.list_pages(
            self.resource, namespace, {"labelSelector": SELECTOR}, self.page_size
        )
        version = None
        try:
            async for page in pages:
                for item in page.get("items") or []:
                    self._dispatch(item)
                version = (page.get("metadata") or {}).get("resourceVersion")
        except ApiError as exc:
            if exc.status == 410:
                raise Gone() from exc
            raise
        return version

    async def _watch(self, namespace: str | None, version: str | None) -> str | None:
        """Follow the stream until the server ends it; the last resourceVersion seen."""
        params = {
            "watch": "true",
            "labelSelector": SELECTOR,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.server_timeout),
        }
        if version:
            params["resourceVersion"] = version
        path = self.resource.list_path(namespace)
        try:
            async for event in self.client.stream(path, params, self.server_timeout + 30.0):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 500)
                    raise ApiError(code, str(obj.get("reason", "")), str(obj.get("message", "")))
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED"):
                    self._dispatch(obj)
                elif kind == "DELETED":
                    self._seen.pop(_key(obj), None)
        except ApiError as exc:
            if exc.status == 410:
                raise Gone() from exc
            raise
        return version

    def _dispatch(self, deployment: dict[str, Any]) -> None:
        meta = deployment.get("metadata") or {}
        if (meta.get("labels") or {}).get(MANAGED_BY) != MANAGER:
            return  # a server that ignored the selector
        key, version = _key(deployment), meta.get("resourceVersion")
        if version is not None and self._seen.get(key) == version:
            return  # already handled (a re-list, or a stream that re-sends what exists)
        self._seen[key] = version
        self._pending[key] = deployment
        if key not in self._busy:
            self._busy.add(key)
            task = asyncio.create_task(self._drain(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: Key) -> None:
        try:
            while (deployment := self._pending.pop(key, None)) is not None:
                try:
                    await self.handler(deployment)
                except Exception as exc:  # the next event, re-list or drift reconcile retries
                    logger.warning(f"handling {self.resource.plural} {key[0]}/{key[1]}: {exc!r}")
                    version = (deployment.get("metadata") or {}).get("resourceVersion")
                    if self._seen.get(key) == version:
                        del self._seen[key]
        finally:
            self._busy.discard(key)


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))
