"""A small async Kubernetes REST client: get, list pages, watch streams, create, server-side
apply, merge-patches (of a status; with a resourceVersion precondition), delete.

It uses the same ConnectionInfo kopf logs in with (see `__main__.py`), so the operator and kopf
talk to the same API server with the same credentials, and stays lean: plain JSON dicts, no
generated models (the operator's CPU per reconcile is benchmarked in bench/). What it does
about faults (docs/operator.md, "API faults"): a timeout on every request, retries with
jittered backoff of the requests that may be repeated, Retry-After honoured up to a bound,
a new login on 401, and no write at all while another replica leads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf

FIELD_MANAGER = "asrfleet-operator"
logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A non-2xx answer from the API server. `retry_after`: seconds a 429 (or 503) asked the
    client to wait (its Retry-After header, else the Status' details.retryAfterSeconds)."""

    def __init__(
        self, status: int, reason: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class NotLeader(Exception):
    """A write refused before it was sent: this process does not hold the leader Lease."""


@dataclass(frozen=True)
class RetryPolicy:
    """How the client itself retries a request that may be repeated (reads, status and JSON
    patches, deletes; never a create or a server-side apply, which could create an object for
    a parent deleted meanwhile: those fail to the reconcile, which re-reads the parent)."""

    attempts: int = 4
    """Tries in all."""
    backoff: float = 0.25
    """The first wait; it doubles per try, each wait drawn uniformly from [0, it] (full
    jitter, so clients that failed together do not retry together)."""
    backoff_cap: float = 4.0
    """The longest backoff."""
    max_retry_after: float = 60.0
    """The longest Retry-After honoured (a longer one is cut to this)."""

    def delay(self, attempt: int, exc: BaseException) -> float:
        """The wait before try `attempt + 1` (`attempt` counts from 0) after `exc`."""
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return min(float(asked), self.max_retry_after)
        return random.uniform(0, min(self.backoff_cap, self.backoff * 2**attempt))


RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
"""Answers a repeatable request is tried again after (409 only for patches without a
resourceVersion and deletes, where it means the API server's own write conflict)."""
TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)


@dataclass(frozen=True)
class Resource:
    """group/version/plural of a namespaced resource."""

    api_version: str  # "v1", "apps/v1", ...
    plural: str

    def path(self, namespace: str, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        tail = f"/{name}" if name else ""
        return f"{base}/namespaces/{namespace}/{self.plural}{tail}"

    def list_path(self, namespace: str | None) -> str:
        """The collection in one namespace, or across all namespaces when None."""
        if namespace is not None:
            return self.path(namespace)
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{base}/{self.plural}"


Login = Callable[[], kopf.ConnectionInfo | None]
"""Credentials from the kube config (a service account or KUBECONFIG), None when there are none."""


class KubeClient:
    """One aiohttp session per ConnectionInfo; replaced when credentials change.

    Every request has a timeout (`request_timeout`; a watch: no byte for `read_timeout`).
    Repeatable requests are retried by `retry` (`repeat=True`). A 401 calls `relogin` (the
    kube config read again: a rotated service-account token) and sends the request once more
    with the new credentials. `may_write`, when set, is asked before every write; a write it
    refuses raises NotLeader and is not sent (the standby of a leader election writes nothing).
    """

    def __init__(
        self,
        info: kopf.ConnectionInfo | None = None,
        *,
        request_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        relogin: Login | None = None,
    ) -> None:
        self.info = info
        self.request_timeout = request_timeout
        self.retry = retry or RetryPolicy()
        self.relogin = relogin
        self.may_write: Callable[[], bool] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._relogin_lock = asyncio.Lock()
        self.requests = 0  # requests sent, retries included (observability and tests)
        self.writes = 0  # create/patch/delete requests sent
        self.logged_in = asyncio.Event()  # set once credentials arrived (the watch waits on it)
        if info is not None:
            self.logged_in.set()

    def update(self, info: kopf.ConnectionInfo) -> None:
        """New credentials from a re-login; the next request opens a fresh session."""
        if info != self.info:
            self.info = info
            old, self._session = self._session, None
            if old is not None:
                asyncio.get_running_loop().create_task(old.close())
        self.logged_in.set()

    async def open(self) -> None:
        """Open the session now (at login), not on the first reconcile: building an SSL
        context costs ~0.1 s of CPU."""
        await self._session_for_request()

    async def _session_for_request(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is None or self._session.closed:
                info = self.info
                if info is None:
                    raise RuntimeError("not logged in: no credentials yet")
                self._session = aiohttp.ClientSession(
                    base_url=info.server.rstrip("/") + "/",
                    connector=aiohttp.TCPConnector(
                        # plain http (a local API proxy or emulator) needs no TLS context
                        ssl=info.as_ssl_context() if info.server.startswith("https") else False
                    ),
                    headers={**info.as_http_headers(), "User-Agent": FIELD_MANAGER},
                    auth=info.as_aiohttp_basic_auth(),
                    trust_env=info.trust_env,
                )
            return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _login_again(self, failed: kopf.ConnectionInfo | None) -> bool:
        """After a 401 with credentials `failed`: True if there are other credentials now."""
        async with self._relogin_lock:
            if self.info is not failed:
                return True  # another request logged in again meanwhile
            info = self.relogin() if self.relogin is not None else None
            if info is None or info == failed:
                return False
            logger.info("the API server refused the credentials (401); logged in again")
            self.update(info)
            return True

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        *,
        repeat: bool | None = None,
    ) -> dict[str, Any]:
        """Send one request; the parsed answer. `repeat`: retry it on 409/429/5xx/transport
        errors (default: GET and DELETE only)."""
        if method != "GET" and self.may_write is not None and not self.may_write():
            raise NotLeader(f"{method} {path}: not the leader, nothing written")
        repeatable = method in ("GET", "DELETE") if repeat is None else repeat
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        relogged = False
        attempt = 0
        while True:
            info = self.info
            try:
                return await self._send(method, path, data, headers, params)
            except ApiError as exc:
                if exc.status == 401 and not relogged and await self._login_again(info):
                    relogged = True
                    continue
                if not repeatable or exc.status not in RETRYABLE_STATUSES:
                    raise
                failure: Exception = exc
            except TRANSPORT_ERRORS as exc:
                if not repeatable:
                    raise
                failure = exc
            attempt += 1
            if attempt >= self.retry.attempts:
                raise failure
            await asyncio.sleep(self.retry.delay(attempt - 1, failure))
            if method != "GET" and self.may_write is not None and not self.may_write():
                raise NotLeader(f"{method} {path}: not the leader any more, not retried")

    async def _send(
        self,
        method: str,
        path: str,
        data: str | None,
        headers: dict[str, str],
        params: dict[str, str] | None,
    ) -> dict[str, Any]:
        session = await self._session_for_request()
        self.requests += 1
        if method != "GET":
            self.writes += 1
        timeout = aiohttp.ClientTimeout(
            total=self.request_timeout, sock_connect=min(10.0, self.request_timeout)
        )
        async with session.request(
            method, path.lstrip("/"), data=data, headers=headers, params=params, timeout=timeout
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise _error(response.status, text, response.headers.get("Retry-After"))
            result: dict[str, Any] = json.loads(text) if text else {}
            return result

    async def stream(
        self, path: str, params: dict[str, str], read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The JSON lines of a streaming GET (a watch), parsed, until the server ends it.
        `read_timeout`: give up when no byte arrives for this long (a silently dead connection).
        A 401 at the start logs in again for the next attempt (the caller's)."""
        info = self.info
        session = await self._session_for_request()
        self.requests += 1
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(10.0, self.request_timeout), sock_read=read_timeout
        )
        async with session.get(path.lstrip("/"), params=params, timeout=timeout) as response:
            if response.status >= 400:
                error = _error(
                    response.status, await response.text(), response.headers.get("Retry-After")
                )
                if error.status == 401:
                    await self._login_again(info)
                raise error
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip():
                yield json.loads(buffer)

    async def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", resource.path(namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list_pages(
        self,
        resource: Resource,
        namespace: str | None,
        params: Mapping[str, str] | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[dict[str, Any]]:
        """A LIST in `namespace` (all when None), one response page at a time (`limit` +
        `continue`); the last page's metadata holds the list's resourceVersion."""
        query = {**(params or {}), "limit": str(page_size)}
        path = resource.list_path(namespace)
        while True:
            page: dict[str, Any] = await self.request("GET", path, params=query)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = str(token)

    async def create(self, resource: Resource, namespace: str, body: dict[str, Any]) -> Any:
        """POST; not retried here (a retry could create it for a parent deleted meanwhile)."""
        params = {"fieldManager": FIELD_MANAGER}
        return await self.request("POST", resource.path(namespace), body, params=params)

    async def apply(self, resource: Resource, namespace: str, body: dict[str, Any]) -> Any:
        """Server-side apply: fields this manager stops setting are removed by the API server.
        Not retried here: an apply creates a missing object, like a POST."""
        params = {"fieldManager": FIELD_MANAGER, "force": "true"}
        path = resource.path(namespace, body["metadata"]["name"])
        return await self.request("PATCH", path, body, "application/apply-patch+yaml", params)

    async def merge_patch(
        self, resource: Resource, namespace: str, name: str, body: dict[str, Any]
    ) -> Any:
        """Merge-patch an existing object. Repeatable: a missing object is a 404, never a
        creation, and the same patch applied twice leaves the same object."""
        path = resource.path(namespace, name)
        return await self.request("PATCH", path, body, "application/merge-patch+json", repeat=True)

    async def patch_if_unchanged(
        self, resource: Resource, namespace: str, name: str, body: dict[str, Any]
    ) -> Any:
        """Merge-patch with body's metadata.resourceVersion as a precondition: 409 unless the
        object is still at that version (optimistic concurrency). Not retried: a 409 is the
        answer, and a retry after a lost answer would get one too."""
        path = resource.path(namespace, name)
        return await self.request("PATCH", path, body, "application/merge-patch+json", repeat=False)

    async def patch_status(
        self, resource: Resource, namespace: str, name: str, status: Mapping[str, Any]
    ) -> Any:
        """Merge `status` into the object's status subresource (fields not named are kept).
        Repeatable: a merge-patch of a missing object is a 404, never a creation."""
        path = resource.path(namespace, name) + "/status"
        return await self.request(
            "PATCH", path, {"status": status}, "application/merge-patch+json", repeat=True
        )

    async def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """True if deleted now, False if it was already gone."""
        try:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
            await self.request("DELETE", resource.path(namespace, name), body)
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise


def _error(status: int, text: str, retry_after: str | None = None) -> ApiError:
    try:
        payload = json.loads(text)
        reason, message = str(payload.get("reason", "")), str(payload.get("message", ""))
        asked = (payload.get("details") or {}).get("retryAfterSeconds")
    except (ValueError, AttributeError):
        reason, message, asked = "", text[:500], None
    if retry_after is not None:
        asked = retry_after  # the header wins: the details field is the older form
    return ApiError(status, reason, message, _seconds(asked) if status in (429, 503) else None)


def _seconds(value: Any) -> float | None:
    """Retry-After as seconds (the delta-seconds form; an HTTP date is not used by the API
    server and counts as absent)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None
