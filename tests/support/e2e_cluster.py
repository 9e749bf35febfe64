"""Helpers for tests/e2e: kubectl against the cluster in KUBECONFIG, polling, sample
SpeechRecognizers (the same sample the operator integration tests use)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
# Seconds to wait for real pods to become Ready (image pull + model load).
READY_TIMEOUT = float(os.environ.get("E2E_READY_TIMEOUT", "600"))


def kubectl_result(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> str:
    result = kubectl_result(*args, stdin=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def get_json(kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    out = subprocess.run(
        ["kubectl", "get", kind, name, "-n", namespace, "-o", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout) if out.returncode == 0 else None


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def recognizer(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    """The same sample the operator integration tests use (tests/support/operator_cluster)."""
    body: dict[str, Any] = {"model": {"name": "whisper-tiny.en", "language": "en"}, "replicas": 1}
    body.update(spec)
    return {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def apply(manifest: dict[str, Any], check: bool = True) -> str:
    return kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest), check=check)
