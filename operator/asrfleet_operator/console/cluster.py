"""The console's reads and patches of the Kubernetes API, as plain JSON dicts.

It logs in as the operator does (the in-cluster service account first, then KUBECONFIG or
~/.kube/config, through kopf's own login functions) and talks through the operator's lean
REST client. Everything it asks for is in the chart's console RBAC: get/list SpeechRecognizers,
Deployments, Pods, Events and HorizontalPodAutoscalers, and patch SpeechRecognizers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import kopf

from asrfleet_operator.console.errors import Forbidden, NotFound, UpstreamError
from asrfleet_operator.kube import ApiError, KubeClient, Resource
from asrfleet_operator.render.labels import API_VERSION, PLURAL, selector_labels

SPEECH_RECOGNIZERS = Resource(API_VERSION, PLURAL)
DEPLOYMENTS = Resource("apps/v1", "deployments")
PODS = Resource("v1", "pods")
EVENTS = Resource("v1", "events")
HPAS = Resource("autoscaling/v2", "horizontalpodautoscalers")
API_TIMEOUT_SECONDS = 30.0
"""A call the API server has not answered by then fails (a round, or a page, with 502)."""
SERVER_PODS_SELECTOR = "app.kubernetes.io/name=asr-server"
"""Every inference pod carries it (render/labels.py); one LIST per round finds them all."""


class NotLoggedIn(RuntimeError):
    """No service account and no kubeconfig: nothing to read the fleet from."""


def connection_info() -> kopf.ConnectionInfo:
    """In-cluster service account first, then kubeconfig (KUBECONFIG or ~/.kube/config)."""
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise NotLoggedIn("no in-cluster service account and no kubeconfig found")
    return info


def _translated(exc: ApiError | aiohttp.ClientError | TimeoutError, what: str) -> Exception:
    if not isinstance(exc, ApiError):
        return UpstreamError(f"the Kubernetes API did not answer for {what}: {exc!r}")
    if exc.status == 404:
        return NotFound(f"{what} not found")
    if exc.status in (401, 403):
        return Forbidden(f"the console may not read or change {what}: {exc.message}")
    return UpstreamError(f"the Kubernetes API answered {exc.status} for {what}: {exc.message}")


@contextlib.asynccontextmanager
async def api_call(what: str) -> AsyncIterator[None]:
    """API errors, a dead connection or a hung API server as the console's errors."""
    try:
        async with asyncio.timeout(API_TIMEOUT_SECONDS):
            yield
    except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
        raise _translated(exc, what) from None


class Cluster:
    """The fleet as the API has it, limited to the namespaces the console may show."""

    def __init__(self, client: KubeClient, namespaces: tuple[str, ...]) -> None:
        self.client = client
        self.namespaces = namespaces

    def visible(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    async def list_all(
        self, resource: Resource, params: Mapping[str, str] | None = None
    ) -> list[Any]:
        """Every object of `resource` in the shown namespaces (one LIST each, or one
        cluster-wide)."""
        scopes: tuple[str | None, ...] = self.namespaces or (None,)
        items: list[Any] = []
        async with api_call(resource.plural):
            for namespace in scopes:
                async for page in self.client.list_pages(resource, namespace, params):
                    items.extend(page.get("items") or [])
        return items

    async def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        async with api_call(f"{resource.plural} {namespace}/{name}"):
            return await self.client.get(resource, namespace, name)

    async def recognizer(self, namespace: str, name: str) -> dict[str, Any]:
        found = (
            await self.get(SPEECH_RECOGNIZERS, namespace, name) if self.visible(namespace) else None
        )
        if found is None:
            raise NotFound(f"SpeechRecognizer {namespace}/{name} not found")
        return found

    async def events(self, namespace: str) -> list[Any]:
        async with api_call(f"events in {namespace}"):
            page = await self.client.request("GET", EVENTS.list_path(namespace))
        return list(page.get("items") or [])

    async def pods(self, namespace: str, selector: Mapping[str, str]) -> list[Any]:
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}
        async with api_call(f"pods in {namespace}"):
            page = await self.client.request("GET", PODS.list_path(namespace), params=query)
        return list(page.get("items") or [])

    async def patch_recognizer(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        await self.recognizer(namespace, name)  # 404 for a hidden namespace too
        async with api_call(f"SpeechRecognizer {namespace}/{name}"):
            result: dict[str, Any] = await self.client.merge_patch(
                SPEECH_RECOGNIZERS, namespace, name, body
            )
        return result


def pod_selector(deployment: Mapping[str, Any] | None, name: str) -> dict[str, str]:
    """The Deployment's own selector, or the labels the operator gives every pod."""
    match = ((deployment or {}).get("spec") or {}).get("selector", {}).get("matchLabels")
    return dict(match) if match else selector_labels(name)
