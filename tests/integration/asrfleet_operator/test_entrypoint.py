"""`python -m asrfleet_operator` as a user (or `make demo`) runs it: a subprocess reading
KUBECONFIG, against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import aiohttp
from support.kube_emulator import SERVICE_MONITOR_CRD, running_emulator
from support.operator_cluster import (
    CRD_PATH,
    DEPLOYMENTS,
    MODEL_CRD_PATH,
    SERVICES,
    Cluster,
    sample_sr,
)


def test_help_needs_no_cluster() -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["KUBECONFIG"] = "/nonexistent"
    out = subprocess.run(
        [sys.executable, "-m", "asrfleet_operator", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert "ASRFLEET_INFERENCE_IMAGE" in out.stdout and "ASRFLEET_RESYNC_SECONDS" in out.stdout


async def test_module_entrypoint_reconciles_with_kubeconfig(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with running_emulator(
        [CRD_PATH, MODEL_CRD_PATH], extra_crds=[SERVICE_MONITOR_CRD]
    ) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "ASRFLEET_HEALTH_PORT": str(port),
            "ASRFLEET_RESYNC_SECONDS": "2",
            "ASRFLEET_LOG_FORMAT": "text",
            "ASRFLEET_INFERENCE_IMAGE": "registry.local:5000/asr-server:dev",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "asrfleet_operator",
            "--verbose",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            cluster = Cluster(emu=emu, kubeconfig=kubeconfig, ctx=None, tmp=tmp_path)  # type: ignore[arg-type]
            await cluster.apply(sample_sr("demo"))
            dep = await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, "demo"), "deployment", 60)
            await cluster.wait_for(lambda: cluster.obj(SERVICES, "demo"), "service", 60)
            container = dep["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] == "registry.local:5000/asr-server:dev"
            assert container["command"] == ["asr-server"] and container["args"] == ["serve"]
            # The health port serves the liveness probe and the metrics the chart scrapes.
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                async with http.get("/healthz") as response:
                    assert response.status == 200
                async with http.get("/metrics") as response:
                    metrics = await response.text()
            samples = dict(
                line.rsplit(" ", 1) for line in metrics.splitlines() if not line.startswith("#")
            )
            assert float(samples['asrfleet_operator_reconciles_total{trigger="event"}']) >= 1
            assert float(samples["asrfleet_operator_managed_speechrecognizers"]) == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
