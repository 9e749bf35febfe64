"""A small async Kubernetes REST client for the children (get, create, apply, delete).

It reuses the ConnectionInfo that kopf logged in with (see `__main__.py`), so the operator and
kopf talk to the same API server with the same credentials, and stays lean: plain JSON dicts,
no generated models (the operator's CPU per reconcile is benchmarked in bench/).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf

FIELD_MANAGER = "asrfleet-operator"


class ApiError(Exception):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


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


class KubeClient:
    """One aiohttp session per ConnectionInfo; replaced when kopf logs in again."""

    def __init__(self, info: kopf.ConnectionInfo | None = None) -> None:
        self.info = info
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self.writes = 0  # create/patch/delete requests sent (observability and tests)
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
                    raise RuntimeError("not logged in: kopf's login handler has not run")
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

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        session = await self._session_for_request()
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        if method != "GET":
            self.writes += 1
        async with session.request(
            method, path.lstrip("/"), data=data, headers=headers, params=params
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise _error(response.status, text)
            result: dict[str, Any] = json.loads(text) if text else {}
            return result

    async def stream(
        self, path: str, params: dict[str, str], read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The JSON lines of a streaming GET (a watch), parsed, until the server ends it.
        `read_timeout`: give up when no byte arrives for this long (a silently dead connection)."""
        session = await self._session_for_request()
        timeout = aiohttp.ClientTimeout(total=None, sock_read=read_timeout)
        async with session.get(path.lstrip("/"), params=params, timeout=timeout) as response:
            if response.status >= 400:
                raise _error(response.status, await response.text())
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
        params = {"fieldManager": FIELD_MANAGER}
        return await self.request("POST", resource.path(namespace), body, params=params)

    async def apply(self, resource: Resource, namespace: str, body: dict[str, Any]) -> Any:
        """Server-side apply: fields this manager stops setting are removed by the API server."""
        params = {"fieldManager": FIELD_MANAGER, "force": "true"}
        path = resource.path(namespace, body["metadata"]["name"])
        return await self.request("PATCH", path, body, "application/apply-patch+yaml", params)

    async def merge_patch(
        self, resource: Resource, namespace: str, name: str, body: dict[str, Any]
    ) -> Any:
        path = resource.path(namespace, name)
        return await self.request("PATCH", path, body, "application/merge-patch+json")

    async def patch_status(
        self, resource: Resource, namespace: str, name: str, status: Mapping[str, Any]
    ) -> Any:
        """Merge `status` into the object's status subresource (fields not named are kept)."""
        path = resource.path(namespace, name) + "/status"
        return await self.request("PATCH", path, {"status": status}, "application/merge-patch+json")

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


def _error(status: int, text: str) -> ApiError:
    try:
        payload = json.loads(text)
        return ApiError(status, str(payload.get("reason", "")), str(payload.get("message", "")))
    except (ValueError, AttributeError):
        return ApiError(status, "", text[:500])
