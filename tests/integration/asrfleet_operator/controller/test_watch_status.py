"""The operator's own Deployment watch end to end: a Deployment's status set in the emulator
shows in its SpeechRecognizer's status, also after the watch was told 410 Gone and re-listed."""

from __future__ import annotations

import json
from typing import Any

import kmock
from support.operator_cluster import DEPLOYMENTS, SERVICES, SRS, Cluster, sample_sr


async def set_deployment_status(cluster: Cluster, name: str, status: dict[str, Any]) -> None:
    patch = json.dumps({"status": status})
    await cluster.kubectl(
        "patch", "deployment", name, "--subresource=status", "--type=merge", "-p", patch
    )


def deployment_lists(cluster: Cluster) -> int:
    """LIST requests for Deployments (not watches) the emulator received."""
    return sum(
        1
        for r in list(cluster.emu.emulator)
        if r.method.value == "GET"
        and str(r.url.path).endswith("/deployments")
        and r.url.query.get("watch") != "true"
        and "labelSelector" in r.url.query
    )


def phase(cluster: Cluster, name: str) -> str | None:
    sr = cluster.obj(SRS, name)
    return sr.get("status", {}).get("phase") if sr else None


async def test_status_follows_the_deployment_across_a_410(cluster: Cluster) -> None:
    await cluster.apply(sample_sr(replicas=2))
    await cluster.wait_for(lambda: cluster.obj(SERVICES, "english"), "service")
    await cluster.wait_for(lambda: phase(cluster, "english") == "Pending", "phase Pending")
    await set_deployment_status(
        cluster, "english", {"observedGeneration": 1, "replicas": 2, "readyReplicas": 1}
    )
    await cluster.wait_for(lambda: phase(cluster, "english") == "Progressing", "Progressing")
    assert cluster.obj(SRS, "english")["status"]["readyText"] == "1/2"  # type: ignore[index]

    lists = deployment_lists(cluster)
    # What an API server sends when the watch's resourceVersion is too old. (kmock's watch
    # streams read a bus per resource; there is no public way to inject an event.)
    bus = cluster.emu.emulator._buses[kmock.resource("apps", "v1", "deployments")]
    await bus.put({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Gone"}})
    await cluster.wait_for(lambda: deployment_lists(cluster) > lists, "a re-list after 410")

    await set_deployment_status(
        cluster,
        "english",
        {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2},
    )
    await cluster.wait_for(lambda: phase(cluster, "english") == "Ready", "phase Ready")
    sr = cluster.obj(SRS, "english")
    assert sr is not None and sr["status"]["readyReplicas"] == 2
    dep = cluster.obj(DEPLOYMENTS, "english")
    assert dep is not None and dep["spec"]["replicas"] == 2


async def test_an_unchanged_deployment_status_writes_nothing(cluster: Cluster) -> None:
    await cluster.apply(sample_sr())
    ready = {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}
    await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, "english"), "deployment")
    await set_deployment_status(cluster, "english", ready)
    await cluster.wait_for(lambda: phase(cluster, "english") == "Ready", "phase Ready")
    before = len(cluster.writes())
    # A Deployment event whose status the SpeechRecognizer already reflects (here: a label).
    await cluster.kubectl("label", "deployment", "english", "touched=yes")
    await cluster.wait_for(
        lambda: (
            (d := cluster.obj(DEPLOYMENTS, "english")) and d["metadata"]["labels"].get("touched")
        ),
        "label",
    )
    status_writes = [
        r for r in cluster.writes()[before:] if str(r.url.path).endswith("english/status")
    ]
    assert status_writes == []
