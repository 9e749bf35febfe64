"""Helpers for the operator integration tests: a Cluster handle (emulator + kubectl) and sample
SpeechRecognizers. The fixture itself is in tests/integration/asrfleet_operator/conftest.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from asrfleet_operator.controller import Context

from support.kube_emulator import EmulatorHandle

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = REPO_ROOT / "crds" / "asrfleet.io_speechrecognizers.yaml"
MODEL_CRD_PATH = REPO_ROOT / "crds" / "asrfleet.io_speechmodels.yaml"
RESYNC_SECONDS = 1.0  # short drift-correction timer so the tests stay quick
DEPLOYMENTS = "apps/v1/deployments"
SERVICES = "v1/services"
HPAS = "autoscaling/v2/horizontalpodautoscalers"
PDBS = "policy/v1/poddisruptionbudgets"
SERVICE_MONITORS = "monitoring.coreos.com/v1/servicemonitors"
SRS = "asrfleet.io/v1alpha1/speechrecognizers"
SPEECH_MODELS = "asrfleet.io/v1alpha1/speechmodels"
CLAIMS = "v1/persistentvolumeclaims"
JOBS = "batch/v1/jobs"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Cluster:
    emu: EmulatorHandle
    kubeconfig: Path
    ctx: Context
    tmp: Path

    async def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run the real kubectl against the emulator (asynchronously: the emulator shares this
        event loop)."""
        proc = await asyncio.create_subprocess_exec(
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {err.decode()}")
        return out.decode()

    async def apply(self, manifest: dict[str, Any]) -> None:
        await self.kubectl("apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(manifest))

    async def create_raw(self, resource: str, manifest: dict[str, Any]) -> None:
        """POST a built-in object (e.g. resource "v1/pods") with kubectl's raw mode: kubectl
        cannot map core kinds by name against kmock's discovery (apply, patch)."""
        path = _collection(resource, manifest["metadata"].get("namespace", "default"))
        await self.kubectl("create", "--raw", path, "-f", "-", stdin=json.dumps(manifest))

    async def get_json(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        text = await self.kubectl("get", kind, name, "-n", namespace, "-o", "json")
        return dict(json.loads(text))

    def obj(self, resource: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.emu.get(resource, namespace, name)
        return found

    async def wait_for(self, check: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def set_status(
        self, resource: str, name: str, status: dict[str, Any], namespace: str = "default"
    ) -> None:
        """What a controller or the kubelet would report (the emulator runs none of them): a
        merge-patch of the status subresource (e.g. resource "batch/v1/jobs")."""
        path = f"{_collection(resource, namespace)}/{name}/status"
        headers = {"Content-Type": "application/merge-patch+json"}
        async with (
            aiohttp.ClientSession() as http,
            http.patch(self.emu.url + path, json={"status": status}, headers=headers) as answer,
        ):
            assert answer.status == 200, await answer.text()

    def listed(self, resource: str, **labels: str) -> list[dict[str, Any]]:
        """The stored objects of a resource (e.g. "batch/v1/jobs") that carry `labels`."""
        group_version, _, plural = resource.rpartition("/")
        return [
            dict(obj.raw)
            for key, obj in list(self.emu.emulator.objects.items())
            if key[0].plural == plural
            and f"{key[0].group}/{key[0].version}".strip("/") == group_version
            and not obj.deleted
            and labels.items() <= ((obj.raw.get("metadata") or {}).get("labels") or {}).items()
        ]

    def events(self) -> list[dict[str, Any]]:
        return self.listed("v1/events")

    def writes(self, exclude: tuple[str, ...] = ("events",)) -> list[Any]:
        """Write requests the emulator received, except to `exclude`d plurals."""
        return [
            r
            for r in list(self.emu.emulator)
            if r.method.value in WRITE_METHODS
            and not any(f"/{plural}" in str(r.url.path) for plural in exclude)
        ]


def _collection(resource: str, namespace: str) -> str:
    group_version, _, plural = resource.rpartition("/")
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{base}/namespaces/{namespace}/{plural}"


def sample_sr(name: str = "english", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": {"name": "whisper-tiny.en", "language": "en"}, "replicas": 1}
    body.update(spec)
    return {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "metadata": {"name": name, "namespace": "default"},
        "spec": body,
    }


def sample_speech_model(name: str = "tiny", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uri": "s3://models/whisper-tiny.en/",
        "storage": {"size": "1Gi", "storageClassName": "shared", "accessModes": ["ReadWriteMany"]},
    }
    body.update(spec)
    return {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": body,
    }
