"""kube.py: resource paths, and what the client does about API faults, against a real HTTP
server: retries of repeatable requests only, Retry-After honoured up to its bound, a timeout
on every request, a new login on 401, and no write while another replica leads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import kopf
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from asrfleet_operator.kube import ApiError, KubeClient, NotLeader, Resource, RetryPolicy

SERVICES = Resource("v1", "services")
FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_cap=0.02, max_retry_after=0.05)


def test_resource_paths() -> None:
    assert Resource("v1", "services").path("ns", "a") == "/api/v1/namespaces/ns/services/a"
    deployments = Resource("apps/v1", "deployments")
    assert deployments.path("ns") == "/apis/apps/v1/namespaces/ns/deployments"


@dataclass
class Scripted:
    """Answers each request with the next item of `answers` (then 200 {}): an int status, a
    (status, headers) pair, or "slow" (no answer for a minute)."""

    answers: list[Any] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, Authorization)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.headers.get("Authorization", "")))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "slow":
            await asyncio.sleep(60)
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        body = {"kind": "Status", "code": status, "reason": "Scripted", "message": "scripted"}
        if status == 429 and "details" in headers:
            body["details"] = {"retryAfterSeconds": headers.pop("details")}
        return web.json_response(body if status >= 400 else {}, status=status, headers=headers)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Scripted, Callable[..., KubeClient]]]:
    scripted = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    clients: list[KubeClient] = []
    async with TestServer(app) as test_server:
        url = str(test_server.make_url("/"))

        def client(token: str = "old", **kwargs: Any) -> KubeClient:
            info = kopf.ConnectionInfo(server=url, token=token, insecure=True)
            made = KubeClient(info, retry=FAST, **kwargs)
            clients.append(made)
            return made

        try:
            yield scripted, client
        finally:
            for made in clients:
                await made.close()


Server = tuple[Scripted, Callable[..., KubeClient]]


async def test_a_read_is_retried_after_5xx_and_429(server: Server) -> None:
    scripted, client = server
    scripted.answers = [503, (429, {"Retry-After": "0"}), 200]
    assert await client().get(SERVICES, "ns", "a") == {}
    assert len(scripted.seen) == 3


async def test_retries_are_bounded(server: Server) -> None:
    scripted, client = server
    scripted.answers = [500] * 10
    with pytest.raises(ApiError) as failed:
        await client().get(SERVICES, "ns", "a")
    assert failed.value.status == 500 and len(scripted.seen) == FAST.attempts


async def test_creates_and_applies_are_not_retried(server: Server) -> None:
    """They could create an object for a parent deleted meanwhile: the reconcile re-reads."""
    scripted, client = server
    scripted.answers = [503, 503]
    api = client()
    with pytest.raises(ApiError):
        await api.create(SERVICES, "ns", {"metadata": {"name": "a"}})
    with pytest.raises(ApiError):
        await api.apply(SERVICES, "ns", {"metadata": {"name": "a"}})
    assert len(scripted.seen) == 2


async def test_patches_of_existing_objects_are_retried(server: Server) -> None:
    """A merge-patch of a missing object is a 404, never a creation: safe to send again."""
    scripted, client = server
    scripted.answers = [503, 200, 503, 200]
    api = client()
    assert await api.merge_patch(SERVICES, "ns", "a", {"spec": {}}) == {}
    assert await api.patch_status(SERVICES, "ns", "a", {"phase": "Ready"}) == {}
    assert [method for method, _ in scripted.seen] == ["PATCH"] * 4


async def test_retry_after_is_parsed_and_bounded(server: Server) -> None:
    scripted, client = server
    scripted.answers = [(429, {"Retry-After": "7"}), (429, {"details": 3})]
    api = client()
    api.retry = RetryPolicy(attempts=1)
    for expected in (7.0, 3.0):  # the header, else the Status' details (the older form)
        with pytest.raises(ApiError) as throttled:
            await api.get(SERVICES, "ns", "a")
        assert throttled.value.retry_after == expected
    assert RetryPolicy(max_retry_after=60).delay(0, throttled.value) == 3.0
    asked_too_much = ApiError(429, "TooManyRequests", "", retry_after=3600)
    assert RetryPolicy(max_retry_after=60).delay(0, asked_too_much) == 60.0
    for attempt in range(6):  # jittered, never beyond the cap
        assert 0 <= RetryPolicy().delay(attempt, ApiError(503, "", "")) <= RetryPolicy.backoff_cap


async def test_every_request_has_a_timeout(server: Server) -> None:
    scripted, client = server
    scripted.answers = ["slow"]
    with pytest.raises(TimeoutError):
        await client(request_timeout=0.2).create(SERVICES, "ns", {"metadata": {"name": "a"}})


async def test_a_401_logs_in_again_with_new_credentials(server: Server) -> None:
    scripted, client = server
    logins: list[str] = []
    api: KubeClient

    def relogin() -> kopf.ConnectionInfo:
        logins.append("again")
        assert api.info is not None
        return kopf.ConnectionInfo(server=api.info.server, token="new", insecure=True)

    api = client(relogin=relogin)
    scripted.answers = [401, 200]
    await api.patch_status(SERVICES, "ns", "a", {"phase": "Ready"})
    assert logins == ["again"]
    assert [auth for _, auth in scripted.seen] == ["Bearer old", "Bearer new"]


async def test_a_401_with_nothing_new_to_log_in_with_is_raised(server: Server) -> None:
    scripted, client = server
    api: KubeClient = client(relogin=lambda: api.info)
    scripted.answers = [401]
    with pytest.raises(ApiError) as refused:
        await api.get(SERVICES, "ns", "a")
    assert refused.value.status == 401 and len(scripted.seen) == 1


async def test_no_write_is_sent_while_not_leading(server: Server) -> None:
    scripted, client = server
    api = client()
    api.may_write = lambda: False
    with pytest.raises(NotLeader):
        await api.create(SERVICES, "ns", {"metadata": {"name": "a"}})
    with pytest.raises(NotLeader):
        await api.delete(SERVICES, "ns", "a")
    assert await api.get(SERVICES, "ns", "a") == {}  # reads go on
    assert [method for method, _ in scripted.seen] == ["GET"]


async def test_errors_carry_the_api_servers_reason(server: Server) -> None:
    scripted, client = server
    scripted.answers = [422]
    with pytest.raises(ApiError) as rejected:
        await client().create(SERVICES, "ns", {"metadata": {"name": "a"}})
    assert (rejected.value.status, rejected.value.reason) == (422, "Scripted")
    assert rejected.value.retry_after is None
