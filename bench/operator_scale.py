"""Operator CPU and memory at scale, against a minimal kopf operator measured in the same run.

    .venv/bin/python bench/operator_scale.py --count 100

For each operator (asrfleet, then a minimal kopf operator that POSTs three bare objects per
SpeechRecognizer): start a fresh kmock API emulator in its own process, start the operator
as `python -m ...` with KUBECONFIG pointing at it, create COUNT SpeechRecognizers (autoscaled,
so asrfleet makes a Deployment, Service and HPA each), wait until every one has its three
children, and read the operator process's CPU seconds (utime+stime from /proc) and peak RSS
(VmHWM). Prints per-SR CPU, peak RSS, wall time and the ratios. Targets: CPU per reconcile
<= 1.5x the minimal operator's; RSS < 200 MB. Wall time is not a target: kmock's emulator
checks every request against all recorded ones (quadratic), so at scale it measures the
emulator. The drift sweep interval is set to 1 h so that only the reconciles are measured.

Where asrfleet's extra CPU went and what was done (py-spy and ablations, 2026-11-24; figures in
docs/operator.md "Benchmark"): kopf's event cycle per owned-Deployment event (~2.3 ms/SR) ->
the operator's own list + watch (controller/watch.py); kopf's create/update/resume change
detection (annotations built, diffed and patched per event, plus one more full cycle for the
event of each status write) -> one generation-based event handler (controller/changes.py); a
kopf timer task per object -> one resync sweep (controller/sweep.py); kopf's Event poster ->
the operator's own client (events.py). Was 2.06x at 100 SRs; now 1.05-1.41x at 100 and 1.14x
at 200 on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
CRD = REPO / "crds" / "asrfleet.io_speechrecognizers.yaml"
SR_PATH = "/apis/asrfleet.io/v1alpha1/namespaces/default/speechrecognizers"
CHILD_LISTS = (
    "/apis/apps/v1/namespaces/default/deployments",
    "/api/v1/namespaces/default/services",
    "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the two helper processes -------------------------------------------------------------


async def serve_emulator() -> None:
    from support.kube_emulator import SERVICE_MONITOR_CRD, running_emulator

    async with running_emulator([CRD], extra_crds=[SERVICE_MONITOR_CRD]) as emu:
        print(emu.url, flush=True)
        await asyncio.Event().wait()


def run_minimal_operator() -> None:
    """The anchor: kopf plus three bare POSTs per SpeechRecognizer, nothing else."""
    import kopf
    from asrfleet_operator.kube import KubeClient, Resource

    client = KubeClient()
    kinds = [
        (Resource("apps/v1", "deployments"), "Deployment"),
        (Resource("v1", "services"), "Service"),
        (Resource("autoscaling/v2", "horizontalpodautoscalers"), "HorizontalPodAutoscaler"),
    ]

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = 30  # same as asrfleet: no per-handler success events

    @kopf.on.login()
    def login(**_: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
        if info is not None:
            client.update(info)
        return info

    @kopf.on.create("asrfleet.io", "v1alpha1", "speechrecognizers")
    async def create(body: kopf.Body, namespace: str, **_: Any) -> None:
        for resource, kind in kinds:
            child: dict[str, Any] = {"apiVersion": resource.api_version, "kind": kind}
            kopf.adopt(child, owner=body)
            await client.create(resource, namespace, child)

    kopf.run(clusterwide=True, standalone=True)


# --- measurement ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sample_sr(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "metadata": {"name": f"sr-{i:04d}", "namespace": "default"},
        "spec": {
            "model": {"name": "whisper-base", "language": "zh"},
            "gpu": {"count": 1},
            "autoscaling": {"minReplicas": 1, "maxReplicas": 4, "targetInflightRequests": 4},
        },
    }


async def measure(operator_argv: list[str], count: int) -> dict[str, float]:
    emulator = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-emulator", stdout=asyncio.subprocess.PIPE
    )
    assert emulator.stdout is not None
    url = (await emulator.stdout.readline()).decode().strip()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "e", "cluster": {"server": url}}],
                    "users": [{"name": "e", "user": {"token": "e"}}],
                    "contexts": [{"name": "e", "context": {"cluster": "e", "user": "e"}}],
                    "current-context": "e",
                }
            )
        )
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "ASRFLEET_RESYNC_SECONDS": "3600",
            "ASRFLEET_HEALTH_PORT": "0",
            "ASRFLEET_LOG_FORMAT": "text",
        }
        operator = await asyncio.create_subprocess_exec(
            *operator_argv, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            async with aiohttp.ClientSession(url) as http:
                await asyncio.sleep(3.0)  # let kopf log in, discover and start watching
                cpu_before = cpu_seconds(operator.pid)
                start = time.monotonic()
                for i in range(count):
                    async with http.post(SR_PATH, data=json.dumps(sample_sr(i))) as response:
                        assert response.status < 300, await response.text()
                while True:
                    counts = []
                    for path in CHILD_LISTS:
                        async with http.get(path) as response:
                            counts.append(len((await response.json())["items"]))
                    if min(counts) >= count:
                        break
                    await asyncio.sleep(0.5)
                wall = time.monotonic() - start
                await asyncio.sleep(1.0)  # let trailing status writes finish
                cpu = cpu_seconds(operator.pid) - cpu_before
                return {
                    "cpu_per_sr": cpu / count,
                    "rss_mb": peak_rss_mb(operator.pid),
                    "wall": wall,
                }
        finally:
            operator.terminate()
            await operator.wait()
            emulator.terminate()
            await emulator.wait()


async def bench(count: int) -> None:
    ours = await measure([sys.executable, "-m", "asrfleet_operator"], count)
    minimal = await measure([sys.executable, __file__, "--minimal-operator"], count)
    cpu_ratio = ours["cpu_per_sr"] / minimal["cpu_per_sr"]
    rss_ratio = ours["rss_mb"] / minimal["rss_mb"]
    print(f"SpeechRecognizers created: {count} (each: Deployment + Service + HPA)")
    print(f"{'':24}{'CPU ms/SR':>12}{'peak RSS MB':>14}{'wall s':>10}")
    for label, row in (("asrfleet operator", ours), ("minimal kopf operator", minimal)):
        print(
            f"{label:24}{row['cpu_per_sr'] * 1000:>12.1f}{row['rss_mb']:>14.1f}{row['wall']:>10.1f}"
        )
    print(f"CPU per reconcile ratio (asrfleet / minimal): {cpu_ratio:.2f}  (target <= 1.5)")
    print(
        f"peak RSS ratio (asrfleet / minimal): {rss_ratio:.2f}; asrfleet {ours['rss_mb']:.0f} MB"
        f" (target < 200 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="SpeechRecognizers to create")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--minimal-operator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        asyncio.run(serve_emulator())
    elif args.minimal_operator:
        run_minimal_operator()
    else:
        asyncio.run(bench(args.count))


if __name__ == "__main__":
    main()
