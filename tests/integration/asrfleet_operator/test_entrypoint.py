"""`python -m asrfleet_operator` as a user (or `make demo`) runs it: a subprocess reading
KUBECONFIG, against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from support.kube_emulator import SERVICE_MONITOR_CRD, running_emulator
from support.operator_cluster import (
    CRD_PATH,
    DEPLOYMENTS,
    MODEL_CRD_PATH,
    SERVICES,
    Cluster,
    sample_sr,
)
from support.operator_process import operator_process


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


async def test_module_entrypoint_reconciles_with_kubeconfig(tmp_path: Path) -> None:
    async with running_emulator(
        [CRD_PATH, MODEL_CRD_PATH], extra_crds=[SERVICE_MONITOR_CRD]
    ) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        async with operator_process(
            kubeconfig,
            tmp_path,
            args=("--verbose",),
            ASRFLEET_RESYNC_SECONDS="2",
            ASRFLEET_INFERENCE_IMAGE="registry.local:5000/asr-server:dev",
        ) as op:
            cluster = Cluster(emu=emu, kubeconfig=kubeconfig, ctx=None, tmp=tmp_path)  # type: ignore[arg-type]
            await cluster.apply(sample_sr("demo"))
            dep = await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, "demo"), "deployment", 60)
            await cluster.wait_for(lambda: cluster.obj(SERVICES, "demo"), "service", 60)
            container = dep["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] == "registry.local:5000/asr-server:dev"
            assert container["command"] == ["asr-server"] and container["args"] == ["serve"]
            # The health port serves the liveness probe and the metrics the chart scrapes.
            assert await op.healthy()
            samples = await op.metrics()
            assert samples['asrfleet_operator_reconciles_total{trigger="event"}'] >= 1
            assert samples["asrfleet_operator_managed_speechrecognizers"] == 1
            assert samples["asrfleet_operator_leader"] == 1  # no election: it leads at once
            op.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(op.proc.wait(), timeout=60) == 0
