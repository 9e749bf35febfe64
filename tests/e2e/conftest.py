"""End-to-end fixtures: a real cluster from KUBECONFIG (kind or k3d in a user's CI), the chart
installed once per session, a fresh namespace per test.

Run with `make e2e`. Without a reachable cluster every test is collected and skipped with the
reason. Settings (environment):
  E2E_OPERATOR_IMAGE / E2E_SERVER_IMAGE  images loaded into the cluster
                                         (default ghcr.io/asrfleet/{operator,asr-server}:VERSION)
  E2E_SKIP_INSTALL=1                     use an operator that is already installed
  E2E_READY_TIMEOUT                      seconds to wait for pods to become Ready (default 600)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.e2e_cluster import kubectl

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "asrfleet"
RELEASE = "asrfleet-e2e"
SYSTEM_NAMESPACE = "asrfleet-e2e-system"


def _cluster_problem() -> str | None:
    """Why there is no cluster to test against, or None when there is one."""
    if not os.environ.get("KUBECONFIG"):
        return "KUBECONFIG is not set: the e2e suite needs a real cluster (kind, k3d)"
    if shutil.which("kubectl") is None:
        return "kubectl is not installed"
    probe = subprocess.run(
        ["kubectl", "version", "-o", "json", "--request-timeout=5s"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if probe.returncode != 0:
        return f"no cluster answers at KUBECONFIG: {probe.stderr.strip()[:200]}"
    server = json.loads(probe.stdout).get("serverVersion", {}).get("gitVersion", "")
    if "kmock" in server:
        return "KUBECONFIG points at the kmock emulator, not a real cluster"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    problem = _cluster_problem()
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)
            if problem:
                item.add_marker(pytest.mark.skip(reason=problem))


def _helm(*args: str) -> None:
    if shutil.which("helm"):
        subprocess.run(["helm", *args], check=True, timeout=600)
    else:
        script = str(REPO / "scripts" / "helm_chart.py")
        subprocess.run([sys.executable, script, *args], check=True, timeout=600)


def _version() -> str:
    return str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])


@pytest.fixture(scope="session")
def operator_installed() -> Iterator[None]:
    if os.environ.get("E2E_SKIP_INSTALL") == "1":
        yield
        return
    operator = os.environ.get("E2E_OPERATOR_IMAGE", f"ghcr.io/asrfleet/operator:{_version()}")
    server = os.environ.get("E2E_SERVER_IMAGE", f"ghcr.io/asrfleet/asr-server:{_version()}")
    values = {
        "image": dict(zip(("repository", "tag"), operator.rsplit(":", 1), strict=True)),
        "inference": {
            "image": dict(zip(("repository", "tag"), server.rsplit(":", 1), strict=True))
        },
        "operator": {"resyncSeconds": 10},
        "console": {"enabled": True},  # tests/e2e/test_console.py
    }
    values_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"{RELEASE}-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    _helm("upgrade", "--install", RELEASE, str(CHART), "-n", SYSTEM_NAMESPACE, "--create-namespace",
          "-f", str(values_file))  # fmt: skip
    kubectl("-n", SYSTEM_NAMESPACE, "rollout", "status", f"deployment/{RELEASE}", "--timeout=300s")
    yield
    _helm("uninstall", RELEASE, "-n", SYSTEM_NAMESPACE)  # the CRD stays, as Helm does


@pytest.fixture
def namespace(operator_installed: None) -> Iterator[str]:
    name = f"asr-e2e-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)
