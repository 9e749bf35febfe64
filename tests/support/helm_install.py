"""Installing the Helm chart with Helm's own engine into the Kubernetes emulator (used by
tests/integration/charts and reusable by any test that needs the operator's install objects)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "asrfleet"
SCRIPTS = REPO / "scripts"
RELEASE = "fleet"
NAMESPACE = "asrfleet-system"

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from kube_emulator import RunningEmulator, running_emulator  # noqa: E402

__all__ = [
    "CHART",
    "NAMESPACE",
    "REPO",
    "Installed",
    "RunningEmulator",
    "helm_install",
    "running_emulator",
]


@dataclass(frozen=True)
class Installed:
    """What one `helm install` did: its exit code, output, and the objects it created."""

    returncode: int
    stdout: str
    stderr: str
    objects: dict[tuple[str, str | None, str], dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects.values() if obj.get("kind") == kind]

    def one(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found = [
            obj
            for obj in self.of_kind(kind)
            if obj["metadata"]["name"] == name
            and (namespace is None or obj["metadata"].get("namespace") == namespace)
        ]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]


def plain(value: Any) -> Any:
    """kmock's stored objects (mapping views) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def helm_install(
    emulator: RunningEmulator, *values_args: str, verb: tuple[str, ...] = ("install",)
) -> Installed:
    """Run scripts/helm_chart.py install in a child process with HELM_DRIVER=memory (Helm reads
    it when its library loads; the emulator cannot store Helm's release Secret)."""
    before = set(emulator.emulator.objects)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPTS / "helm_chart.py"), *verb, RELEASE, str(CHART),
        "-n", NAMESPACE, "--kubeconfig", str(emulator.kubeconfig), *values_args,
        env={**os.environ, "HELM_DRIVER": "memory"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    created = {
        (str(key[0]), key[1], key[2]): plain(emulator.emulator.objects[key])
        for key in emulator.emulator.objects
        if key not in before
    }
    assert process.returncode is not None
    return Installed(process.returncode, out.decode(), err.decode(), created)
