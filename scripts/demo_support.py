"""Plumbing for scripts/demo.py: named steps, child processes, kubectl, metrics text."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


class StepFailed(RuntimeError):
    """A demo step could not finish; the message says why."""


@dataclass
class Steps:
    """Numbers and prints the steps; remembers the current one for the failure message."""

    current: str = ""
    number: int = 0

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.current = f"step {self.number} ({title})"
        print(f"\n==> {self.number}. {title}", flush=True)
        started = time.monotonic()
        yield
        print(f"    ({time.monotonic() - started:.1f} s)", flush=True)


@dataclass
class Child:
    """A background process whose output goes to a log file; stopped with SIGTERM."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise StepFailed(
                f"{self.name} exited with code {self.process.returncode}; last log lines "
                f"({self.log}):\n{self.tail()}"
            )

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Children:
    """Every process the demo started, stopped in reverse order (also on Ctrl-C)."""

    running: list[Child] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], log: Path, env: Mapping[str, str] | None = None
    ) -> Child:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[bytes] = log.open("wb")
        # Own process group: the terminal's Ctrl-C reaches only the demo, which then stops
        # the children in order instead of all dying at once.
        process = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, env=dict(env or os.environ),
            start_new_session=True,
        )  # fmt: skip
        child = Child(name, process, log)
        self.running.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.running):
            if child.process.poll() is None:
                print(f"    stopping {child.name} (pid {child.process.pid})", flush=True)
                child.stop()
        self.running.clear()


def wait_until(
    what: str, probe: Callable[[], bool], timeout: float, alive: Child | None = None
) -> None:
    """Poll `probe` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None:
            alive.check_alive()
        if probe():
            return
        time.sleep(0.5)
    detail = f"; last log lines ({alive.log}):\n{alive.tail()}" if alive else ""
    raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http_get(
    url: str, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """(status, body); status 0 when nothing answers."""
    try:
        request = urllib.request.Request(url, headers=dict(headers or {}))
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise StepFailed(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result


def kubectl_json(kubeconfig: Path, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    """`kubectl get KIND NAME -o json` (a list would fail against kmock), None if absent."""
    result = kubectl(kubeconfig, "get", kind, name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    return dict(json.loads(result.stdout))


def parse_metrics(text: str, prefix: str = "asr_") -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} for the samples starting with `prefix`."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            name, _, value = line.rpartition(" ")
            try:
                samples[name] = float(value)
            except ValueError:
                continue
    return samples


def fail(steps: Steps, message: str) -> int:
    print(f"\ndemo: FAILED at {steps.current}: {message}", file=sys.stderr, flush=True)
    return 1
