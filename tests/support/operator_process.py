"""`python -m asrfleet_operator` as a subprocess (as the chart runs it), for tests that need a
real process: one that must stay alive under faults, or two replicas of which one is killed.

    async with operator_process(kubeconfig, tmp_path, ASRFLEET_LEASE_NAME="op") as op:
        await op.metric("asrfleet_operator_leader")      # from its /metrics
        op.kill()                                         # SIGKILL, as a node failure would
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class OperatorProcess:
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    async def healthy(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession(f"http://127.0.0.1:{self.port}") as http,
                http.get("/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def metrics(self) -> dict[str, float]:
        """Its /metrics samples, by name with labels (e.g. 'x_total{trigger="event"}')."""
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{self.port}") as http,
            http.get("/metrics", timeout=aiohttp.ClientTimeout(total=5)) as response,
        ):
            text = await response.text()
        samples = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
        return {name: float(value) for name, value in samples}

    async def metric(self, name: str) -> float | None:
        try:
            return (await self.metrics()).get(name)
        except (aiohttp.ClientError, TimeoutError):
            return None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.asynccontextmanager
async def operator_process(
    kubeconfig: Path,
    workdir: Path,
    name: str = "operator",
    args: tuple[str, ...] = (),
    **settings: str,
) -> AsyncIterator[OperatorProcess]:
    """Start the operator (command line `args`) with KUBECONFIG and ASRFLEET_* `settings`;
    stopped (SIGTERM, then SIGKILL) on exit. Its log goes to workdir/<name>.log."""
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "ASRFLEET_HEALTH_PORT": str(port),
        "ASRFLEET_LOG_FORMAT": "text",
        **settings,
    }
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "asrfleet_operator", *args, env=env, stdout=out, stderr=out
        )
    try:
        yield OperatorProcess(proc, port, log)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
