"""A Kubernetes API emulator (kmock) on a real HTTP port, for kopf, kubectl and helm.

Reusable outside the operator tests (e.g. Helm install tests):

    async with running_emulator(crd_paths=[repo / "crds/..."]) as emu:
        emu.write_kubeconfig(tmp_path / "kubeconfig")   # for kubectl / subprocesses
        emu.connection_info()                           # for kopf in-process

kmock stores objects as plain JSON and runs no controllers. `ApiServerEmulator` adds the few
API-server behaviours the operator relies on: metadata.uid, creationTimestamp,
resourceVersion, metadata.generation that moves when the spec changes, and a patch carrying
metadata.resourceVersion as a precondition (409 Conflict when the object moved on: the Lease
of the operator's leader election relies on it). Writes are applied one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import kmock
import yaml
from aiohttp import web
from kmock._internal import dicts as kmock_dicts  # the emulator's own merge-patch
from kmock._internal import enums as kmock_enums

from support import kube_auth

RBAC_PLURALS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


class ApiServerEmulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock's emulator plus uid/creationTimestamp/resourceVersion/generation bookkeeping, and
    TokenReview/SubjectAccessReview answered as an API server would (kube_auth.py): tokens
    from `users` (a static token file), permissions from the stored RBAC objects."""

    _versions = itertools.count(1)
    _writes: asyncio.Lock | None = None
    users: dict[str, dict[str, Any]] = {}  # noqa: RUF012  # replaced per instance
    """token -> TokenReview `status.user` (`kube_auth.read_token_file`)."""

    async def _handle(self, request: Any) -> Any:
        review = self._review(request)
        if review is not None:
            return review
        if request.action not in (kmock_enums.action.CREATE, kmock_enums.action.UPDATE):
            return await self._bookkept(request)
        if self._writes is None:
            self._writes = asyncio.Lock()
        async with self._writes:  # a precondition is checked and the write made at once
            return await self._bookkept(request)

    async def _bookkept(self, request: Any) -> Any:
        if request.resource is not None and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if request.action == kmock_enums.action.CREATE:
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", _now())
                meta.setdefault("generation", 1)
                meta["resourceVersion"] = str(next(self._versions))
            elif request.action == kmock_enums.action.UPDATE and request.name is not None:
                key = (request.resource, request.namespace, request.name)
                wanted = meta.get("resourceVersion")
                if wanted is not None and key in self.objects and not self.objects[key].deleted:
                    stored = self.objects[key].raw.get("metadata", {}).get("resourceVersion")
                    if wanted != stored:
                        raise kmock.KubernetesError(
                            status=409,
                            reason="Conflict",
                            message=f"the object has been modified (at {stored}, not {wanted})",
                        )
                meta["resourceVersion"] = str(next(self._versions))
                if request.subresource is None and key in self.objects:
                    stored = self.objects[key]
                    if not stored.deleted and "spec" in request.data:
                        old = dict(stored.raw)
                        new = kmock_dicts.patch_dict(old, request.data)
                        if new.get("spec") != old.get("spec"):
                            generation = old.get("metadata", {}).get("generation") or 1
                            meta["generation"] = generation + 1
        return await super()._handle(request)

    def _review(self, request: Any) -> Any:
        """The answer to a TokenReview or SubjectAccessReview POST (never stored), else None."""
        resource = request.resource
        if resource is None or request.action != kmock_enums.action.CREATE:
            return None
        body = request.data if isinstance(request.data, dict) else {}
        if (resource.group, resource.plural) == ("authentication.k8s.io", "tokenreviews"):
            return web.json_response(kube_auth.token_review(self.users, body), status=201)
        if (resource.group, resource.plural) == ("authorization.k8s.io", "subjectaccessreviews"):
            stored = [
                (key[0].plural, key[1] or "", dict(obj.raw))
                for key, obj in list(self.objects.items())
                if key[0].group == "rbac.authorization.k8s.io"
                and key[0].plural in RBAC_PLURALS
                and not obj.deleted
            ]
            return web.json_response(kube_auth.access_review(stored, body), status=201)
        return None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def register_crd(emulator: kmock.KubernetesEmulator, crd: Mapping[str, Any]) -> None:
    """Make a CustomResourceDefinition's resources discoverable (kubectl, kopf)."""
    spec = crd["spec"]
    names = spec["names"]
    for version in spec["versions"]:
        key = f"{spec['group']}/{version['name']}/{names['plural']}"
        emulator.resources[key] = {
            "kind": names["kind"],
            "singular": names.get("singular", names["kind"].lower()),
            "namespaced": spec.get("scope", "Namespaced") == "Namespaced",
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            "shortnames": names.get("shortNames", []),
            "categories": names.get("categories", []),
            "subresources": list((version.get("subresources") or {}).keys()),
        }


SERVICE_MONITOR_CRD: dict[str, Any] = {
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "plural": "servicemonitors"},
        "versions": [{"name": "v1"}],
    }
}


class EmulatorHandle:
    """A running emulator: its URL, its stored objects and client configuration."""

    def __init__(self, emulator: ApiServerEmulator, url: str) -> None:
        self.emulator = emulator
        self.url = url

    def connection_info(self) -> Any:
        import kopf  # only the operator tests need kopf

        return kopf.ConnectionInfo(server=self.url, insecure=True, default_namespace="default")

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": "emulator"}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": "default"},
                }
            ],
            "current-context": "emulator",
        }

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.kubeconfig()))
        return path

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (e.g. resource "apps/v1/deployments"), or None if absent."""
        group_version, _, plural = resource.rpartition("/")
        group, _, version = group_version.rpartition("/")
        key = (kmock.resource(group, version, plural), namespace, name)
        if key not in self.emulator.objects or self.emulator.objects[key].deleted:
            return None
        return dict(self.emulator.objects[key].raw)


@contextlib.asynccontextmanager
async def running_emulator(
    crd_paths: Iterable[Path] = (), extra_crds: Iterable[Mapping[str, Any]] = ()
) -> AsyncIterator[EmulatorHandle]:
    """Start the emulator on 127.0.0.1:<free port> with the built-in resources and CRDs."""
    emulator = ApiServerEmulator()
    emulator.resources.load_bundled()  # without it kopf waits forever for namespaces
    crds = [yaml.safe_load(Path(p).read_bytes()) for p in crd_paths]  # noqa: ASYNC240
    crds += list(extra_crds)
    for crd in crds:
        register_crd(emulator, crd)
    async with emulator, kmock.Server(emulator) as server:
        yield EmulatorHandle(emulator, str(server.url).rstrip("/"))
