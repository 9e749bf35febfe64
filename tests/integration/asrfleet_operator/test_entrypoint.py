"""`python -m asrfleet_operator` as a user (or `make demo`) runs it: a subprocess reading
KUBECONFIG, against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from support.kube_emulator import SERVICE_MONITOR_CRD, running_emulator
from support.operator_cluster import CRD_PATH, DEPLOYMENTS, SERVICES, Cluster, sample_sr


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
    async with running_emulator([CRD_PATH], extra_crds=[SERVICE_MONITOR_CRD]) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "ASRFLEET_HEALTH_PORT": "0",
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
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
