"""The operator's own Deployment watch against a scripted API server: list, watch, resume from
the last resourceVersion, re-list after 410 Gone and after a dropped connection, and hand each
new Deployment state to the handler once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from asrfleet_operator.controller.watch import SELECTOR, DeploymentWatch
from asrfleet_operator.kube import KubeClient


def deployment(name: str, version: str, *, managed: bool = True, ready: int = 0) -> dict[str, Any]:
    labels = {"app.kubernetes.io/managed-by": "asrfleet-operator" if managed else "someone"}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "resourceVersion": version,
            "labels": labels,
        },
        "status": {"readyReplicas": ready},
    }


class ScriptedApi:
    """Answers LISTs from `lists` and watches from `watches`, one script item per request."""

    def __init__(self, lists: list[Any], watches: list[list[Any]]) -> None:
        self.lists, self.watches = lists, watches
        self.requests: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.query))
        if request.query.get("watch") != "true":
            item = self.lists.pop(0)
            if isinstance(item, int):
                return web.json_response({"kind": "Status", "code": item}, status=item)
            return web.json_response(item)
        if not self.watches:
            await asyncio.sleep(3600)  # an idle stream
        script = self.watches.pop(0)
        response = web.StreamResponse()
        await response.prepare(request)
        for step in script:
            if step == "drop":  # the connection breaks in the middle of a line
                await response.write(b'{"type": "MODIFIED", "obj')
                assert request.transport is not None
                request.transport.close()
                return response
            await response.write(json.dumps(step).encode() + b"\n")
        await response.write_eof()  # the server's timeout: a clean end of the stream
        return response


@pytest.fixture
async def api() -> AsyncIterator[tuple[ScriptedApi, KubeClient]]:
    scripted = ScriptedApi([], [])
    app = web.Application()
    app.router.add_get("/apis/apps/v1/deployments", scripted.handle)
    app.router.add_get("/apis/apps/v1/namespaces/{ns}/deployments", scripted.handle)
    async with TestServer(app) as server:
        client = KubeClient(kopf.ConnectionInfo(server=str(server.make_url("/")), insecure=True))
        try:
            yield scripted, client
        finally:
            await client.close()


async def run_until(watch: DeploymentWatch, seen: list[Any], count: int) -> None:
    task = asyncio.create_task(watch.run())
    try:
        for _ in range(200):
            if len(seen) >= count:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # nothing more should arrive
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def listing(version: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "items": list(items)}


async def test_lists_then_watches_from_the_listed_version_and_resumes(
    api: tuple[ScriptedApi, KubeClient],
) -> None:
    scripted, client = api
    scripted.lists = [listing("10", deployment("a", "5"), deployment("x", "6", managed=False))]
    scripted.watches = [
        [{"type": "MODIFIED", "object": deployment("a", "11", ready=1)}],
        [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "20"}}}],
    ]
    seen: list[tuple[str, str]] = []

    async def handler(dep: dict[str, Any]) -> None:
        seen.append((dep["metadata"]["name"], dep["metadata"]["resourceVersion"]))

    watch = DeploymentWatch(client, (), handler, backoff=(0.01, 0.02))
    await run_until(watch, seen, 2)
    assert seen == [("a", "5"), ("a", "11")]  # the unmanaged one is ignored
    first, *watches = scripted.requests
    assert first["labelSelector"] == SELECTOR and "watch" not in first
    assert [w.get("resourceVersion") for w in watches[:3]] == ["10", "11", "20"]
    assert all(w["labelSelector"] == SELECTOR for w in watches)
    assert watch.lists == 1  # clean ends of the stream resume, they do not re-list


async def test_gone_relists_and_skips_what_was_already_handled(
    api: tuple[ScriptedApi, KubeClient],
) -> None:
    scripted, client = api
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    scripted.lists = [
        listing("10", deployment("a", "5")),
        listing("30", deployment("a", "5"), deployment("b", "25", ready=2)),
    ]
    scripted.watches = [[gone]]
    seen: list[str] = []

    async def handler(dep: dict[str, Any]) -> None:
        seen.append(f"{dep['metadata']['name']}@{dep['metadata']['resourceVersion']}")

    watch = DeploymentWatch(client, ("default",), handler, backoff=(0.01, 0.02))
    await run_until(watch, seen, 2)
    assert seen == ["a@5", "b@25"]  # a@5 came again in the re-list: not handled twice
    assert watch.lists == 2
    assert scripted.requests[-1].get("resourceVersion") == "30"


async def test_a_dropped_connection_or_an_error_backs_off_and_relists(
    api: tuple[ScriptedApi, KubeClient],
) -> None:
    scripted, client = api
    scripted.lists = [
        500,  # the first list fails: back off and try again
        listing("10", deployment("a", "5")),
        listing("40", deployment("a", "35", ready=1)),
    ]
    scripted.watches = [["drop"]]
    seen: list[str] = []

    async def handler(dep: dict[str, Any]) -> None:
        seen.append(dep["metadata"]["resourceVersion"])
        if len(seen) == 1:
            raise RuntimeError("a failing handler must not end the watch")

    watch = DeploymentWatch(client, (), handler, backoff=(0.01, 0.02))
    await run_until(watch, seen, 2)
    assert seen == ["5", "35"]
    assert watch.lists == 3


async def test_events_of_one_deployment_are_handled_in_order_newest_last() -> None:
    """While one state is being handled, newer ones wait; only the newest is handled next."""
    gate = asyncio.Event()
    seen: list[str] = []

    async def handler(dep: dict[str, Any]) -> None:
        seen.append(dep["metadata"]["resourceVersion"])
        await gate.wait()

    watch = DeploymentWatch(KubeClient(), (), handler)
    watch._dispatch(deployment("a", "1"))
    await asyncio.sleep(0.01)  # "1" is being handled
    for version in ("2", "3"):
        watch._dispatch(deployment("a", version))
    watch._dispatch(deployment("b", "4"))
    watch._dispatch(deployment("b", "4"))  # the same version again: not handled twice
    await asyncio.sleep(0.01)
    assert sorted(seen) == ["1", "4"]  # a and b in parallel, a's later states wait
    gate.set()
    await asyncio.sleep(0.01)
    assert sorted(seen) == ["1", "3", "4"]  # "2" was superseded by "3" while waiting
