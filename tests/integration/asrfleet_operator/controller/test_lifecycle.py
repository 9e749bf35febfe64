"""A user's kubectl against the emulator, the operator running in-process: create, edit, hand
edits undone, children removed when no longer asked for, bad specs reported."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from support.operator_cluster import (
    DEPLOYMENTS,
    HPAS,
    PDBS,
    RESYNC_SECONDS,
    SERVICE_MONITORS,
    SERVICES,
    SRS,
    Cluster,
    sample_sr,
)


def env_of(dep: dict[str, Any]) -> dict[str, str]:
    container = dep["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "<ref>") for e in container["env"]}


def condition(sr: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in sr["status"]["conditions"] if c["type"] == kind)


async def created(cluster: Cluster, manifest: dict[str, Any]) -> dict[str, Any]:
    await cluster.apply(manifest)
    name = manifest["metadata"]["name"]
    await cluster.wait_for(lambda: cluster.obj(SERVICES, name), "service")
    return dict(await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, name), "deployment"))


async def set_deployment_status(cluster: Cluster, name: str, status: dict[str, Any]) -> None:
    """What the Deployment controller would report (the emulator runs no controllers)."""
    await cluster.kubectl(
        "patch",
        "deployment",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


async def test_create_makes_children_with_owner_and_status(cluster: Cluster) -> None:
    dep = await created(cluster, sample_sr())
    sr = cluster.obj(SRS, "english")
    assert sr is not None
    for child in (dep, cluster.obj(SERVICES, "english")):
        assert child is not None
        [ref] = child["metadata"]["ownerReferences"]
        assert ref["controller"] is True and ref["uid"] == sr["metadata"]["uid"]
        assert ref["kind"] == "SpeechRecognizer" and ref["name"] == "english"
    assert dep["spec"]["replicas"] == 1
    assert env_of(dep)["ASR_MODEL"] == "whisper-tiny.en"
    assert env_of(dep)["ASR_DEVICE"] == "cpu"
    assert cluster.obj(HPAS, "english") is None
    assert cluster.obj(PDBS, "english") is None

    sr = await cluster.wait_for(
        lambda: (s := cluster.obj(SRS, "english")) and s.get("status", {}).get("phase") and s,
        "status",
    )
    assert sr["status"]["phase"] == "Pending"
    assert sr["status"]["url"] == "http://english.default.svc.cluster.local"
    assert sr["status"]["model"] == {"name": "whisper-tiny.en", "engine": "faster-whisper"}
    assert sr["status"]["observedGeneration"] == 1
    assert condition(sr, "Ready")["status"] == "False"

    await set_deployment_status(
        cluster,
        "english",
        {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1},
    )

    def ready() -> Any:
        s = cluster.obj(SRS, "english")
        return s if s and s["status"].get("phase") == "Ready" else None

    sr = await cluster.wait_for(ready, "phase Ready")
    assert sr["status"]["readyReplicas"] == 1
    assert condition(sr, "Ready") | {"status": "True", "reason": "AllReplicasReady"} == condition(
        sr, "Ready"
    )
    assert condition(sr, "Degraded")["status"] == "False"
    seen = await cluster.get_json("speechrecognizer", "english")  # as a user sees it
    assert seen["status"]["phase"] == "Ready"


async def test_edits_patch_children_in_place(cluster: Cluster) -> None:
    await created(cluster, sample_sr())
    edited = sample_sr(
        model={"name": "whisper-base", "language": "zh"},
        replicas=3,
        gpu={"count": 1, "resourceName": "nvidia.com/mig-1g.10gb"},
    )
    await cluster.apply(edited)

    def patched() -> Any:
        d = cluster.obj(DEPLOYMENTS, "english")
        return d if d and env_of(d)["ASR_MODEL"] == "whisper-base" else None

    dep = await cluster.wait_for(patched, "patched deployment")
    assert dep["spec"]["replicas"] == 3
    assert env_of(dep)["ASR_DEVICE"] == "cuda" and env_of(dep)["ASR_LANGUAGE"] == "zh"
    limits = dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/mig-1g.10gb"] == "1"
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    deployments = [k for k in cluster.emu.emulator.objects if k[0].plural == "deployments"]
    assert len(deployments) == 1  # patched, not re-created under another name
    assert len(dep["metadata"]["ownerReferences"]) == 1


async def test_hand_edits_are_undone_by_the_drift_loop(cluster: Cluster) -> None:
    await created(cluster, sample_sr(replicas=2))
    hand_edit = [
        {"op": "replace", "path": "/spec/replicas", "value": 7},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "evil/i:1"},
    ]
    out = await cluster.kubectl(
        "patch", "deployment", "english", "--type=json", "-p", json.dumps(hand_edit), "-o", "json"
    )
    edited = json.loads(out)  # the edit landed (the drift loop may undo it any moment now)
    assert edited["spec"]["replicas"] == 7
    assert edited["spec"]["template"]["spec"]["containers"][0]["image"] == "evil/i:1"

    def restored() -> Any:
        d = cluster.obj(DEPLOYMENTS, "english")
        image = d and d["spec"]["template"]["spec"]["containers"][0]["image"]
        return d if d and d["spec"]["replicas"] == 2 and image != "evil/i:1" else None

    dep = await cluster.wait_for(restored, "drift correction", seconds=10 * RESYNC_SECONDS + 10)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/asrfleet/asr-server:0.1.0"
    )
    await cluster.wait_for(  # events are posted asynchronously by kopf
        lambda: any(
            o.raw.get("reason") == "DriftCorrected"
            for k, o in cluster.emu.emulator.objects.items()
            if k[0].plural == "events" and not o.deleted
        ),
        "DriftCorrected event",
    )


async def test_optional_children_come_and_go_with_the_spec(cluster: Cluster) -> None:
    full = sample_sr(
        replicas=None,
        autoscaling={"minReplicas": 2, "maxReplicas": 5, "targetInflightRequests": 4},
        podDisruptionBudget={"minAvailable": 1},
        monitoring={"serviceMonitor": {"enabled": True}},
    )
    await created(cluster, full)
    hpa = await cluster.wait_for(lambda: cluster.obj(HPAS, "english"), "hpa")
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 5
    assert hpa["spec"]["scaleTargetRef"]["name"] == "english"
    await cluster.wait_for(lambda: cluster.obj(PDBS, "english"), "pdb")
    await cluster.wait_for(lambda: cluster.obj(SERVICE_MONITORS, "english"), "servicemonitor")

    await cluster.apply(sample_sr(replicas=2))  # autoscaling, PDB and monitoring removed
    await cluster.wait_for(lambda: cluster.obj(HPAS, "english") is None, "hpa deleted")
    await cluster.wait_for(lambda: cluster.obj(PDBS, "english") is None, "pdb deleted")
    await cluster.wait_for(
        lambda: cluster.obj(SERVICE_MONITORS, "english") is None, "servicemonitor deleted"
    )
    dep = cluster.obj(DEPLOYMENTS, "english")
    assert dep is not None and dep["spec"]["replicas"] == 2


async def test_suspend_scales_to_zero_and_keeps_objects(cluster: Cluster) -> None:
    await created(cluster, sample_sr(replicas=2))
    await cluster.apply(sample_sr(replicas=2, suspend=True))
    await cluster.wait_for(
        lambda: (d := cluster.obj(DEPLOYMENTS, "english")) and d["spec"]["replicas"] == 0,
        "scaled to zero",
    )
    assert cluster.obj(SERVICES, "english") is not None
    sr = await cluster.wait_for(
        lambda: (s := cluster.obj(SRS, "english")) and s["status"]["phase"] == "Suspended" and s,
        "phase Suspended",
    )
    assert condition(sr, "Ready")["reason"] == "Suspended"


async def test_invalid_spec_is_reported_and_running_children_untouched(cluster: Cluster) -> None:
    before = await created(cluster, sample_sr(replicas=2))
    # Valid for the schema, wrong for the operator: an English-only model asked for Mandarin.
    await cluster.apply(sample_sr(replicas=4, model={"name": "whisper-tiny.en", "language": "zh"}))

    def degraded() -> Any:
        s = cluster.obj(SRS, "english")
        return s if s and s["status"].get("phase") == "Degraded" else None

    sr = await cluster.wait_for(degraded, "phase Degraded")
    cond = condition(sr, "Degraded")
    assert cond["status"] == "True" and cond["reason"] == "InvalidSpec"
    assert "spec.model.language" in cond["message"]
    assert sr["status"]["model"]["name"] == "whisper-tiny.en"  # what still runs

    def warning_events() -> list[dict[str, Any]]:
        return [
            dict(o.raw)
            for k, o in cluster.emu.emulator.objects.items()
            if k[0].plural == "events" and not o.deleted and o.raw.get("reason") == "InvalidSpec"
        ]

    events = await cluster.wait_for(warning_events, "InvalidSpec event")
    assert events[0]["type"] == "Warning"
    assert events[0]["involvedObject"]["name"] == "english"

    await asyncio.sleep(3 * RESYNC_SECONDS)  # drift sweeps: no retry storm, no repeated events
    after = cluster.obj(DEPLOYMENTS, "english")
    assert after is not None
    assert after["spec"] == before["spec"]
    assert len(warning_events()) == 1, [
        (e["message"], e.get("firstTimestamp")) for e in warning_events()
    ]


async def test_a_reconcile_with_nothing_to_change_sends_no_write(cluster: Cluster) -> None:
    await created(cluster, sample_sr())
    await set_deployment_status(
        cluster,
        "english",
        {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1},
    )
    await cluster.wait_for(
        lambda: (s := cluster.obj(SRS, "english")) and s["status"]["phase"] == "Ready", "Ready"
    )
    await asyncio.sleep(2 * RESYNC_SECONDS)  # let the first drift sweeps settle
    before = len(cluster.writes())
    assert before > 0  # the creation's writes were seen, so the count below is meaningful
    gets_before = len(list(cluster.emu.emulator))
    await asyncio.sleep(4 * RESYNC_SECONDS)
    assert len(list(cluster.emu.emulator)) > gets_before  # the drift loop did run and read
    assert cluster.writes()[before:] == []


async def test_deleting_a_speechrecognizer_is_not_blocked_by_the_operator(cluster: Cluster) -> None:
    dep = await created(cluster, sample_sr())
    await cluster.wait_for(
        lambda: (s := cluster.obj(SRS, "english")) and s.get("status", {}).get("phase"), "status"
    )
    # No handler needs a finalizer (drift correction is one loop, not a kopf timer).
    assert not cluster.obj(SRS, "english")["metadata"].get("finalizers")
    await cluster.kubectl("delete", "speechrecognizer", "english", "--wait=false")
    await cluster.wait_for(lambda: cluster.obj(SRS, "english") is None, "SR deleted")
    # Kubernetes' garbage collector (absent in the emulator) deletes the children through this:
    assert dep["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True


async def test_the_finalizer_of_an_earlier_version_is_removed(cluster: Cluster) -> None:
    """Earlier versions let kopf put a finalizer for the drift timer; it must not outlive them."""
    manifest = sample_sr()
    manifest["metadata"]["finalizers"] = ["asrfleet.io/finalizer"]
    await created(cluster, manifest)
    await cluster.wait_for(
        lambda: (s := cluster.obj(SRS, "english")) and not s["metadata"].get("finalizers"),
        "the old finalizer removed",
    )
