"""The model cache end to end: a user's kubectl against the emulator, the operator in-process. A
SpeechModel makes its claim and download Job; the test reports what the Job controller and the
kubelet would (the emulator runs no controllers); the SpeechModel's state follows, and the
SpeechRecognizers naming it wait for it, then mount the claim read-only and roll to a new
revision. Every object made is valid for every supported Kubernetes version, and the operator
uses exactly the RBAC verbs the chart grants the cache."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kubernetes_validate
import pytest
from asrfleet_operator.render.speech_model import REVISION_ANNOTATION, job_key, revision
from asrfleet_operator.settings import SUPPORTED_KUBERNETES_VERSIONS
from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec import parse_speech_model
from support.operator_cluster import (
    CLAIMS,
    DEPLOYMENTS,
    JOBS,
    RESYNC_SECONDS,
    SERVICES,
    SPEECH_MODELS,
    SRS,
    Cluster,
    sample_speech_model,
    sample_sr,
)
from support.rbac import CACHE_VERBS, verbs_used

SECRET = "s3-credentials"
USES_TINY = {"speechModelRef": {"name": "tiny"}, "language": "en"}
CREDENTIALS_LINE = (
    "asr-server fetch-model: S3 at http://minio.storage:9000 refused the credentials for"
    " s3://models/whisper-tiny.en/ (InvalidAccessKeyId)"
)
FAILURES = {
    5: ("CredentialsRefused", "PodFailurePolicy", CREDENTIALS_LINE),
    3: (
        "SourceUnavailable",
        "BackoffLimitExceeded",
        "asr-server fetch-model: no such object or prefix: s3://models/whisper-tiny.en/",
    ),
    2: (
        "InvalidSource",
        "PodFailurePolicy",
        "asr-server fetch-model: ASR_S3_ADDRESSING_STYLE must be one of auto, path, virtual;"
        " got 'bogus'",
    ),
}


def valid(manifest: dict[str, Any]) -> None:
    for version in SUPPORTED_KUBERNETES_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(cond for cond in obj["status"]["conditions"] if cond["type"] == kind)


def revision_of(model: dict[str, Any]) -> str:
    return revision(parse_speech_model(model["spec"], name=model["metadata"]["name"]))


def job_name_of(model: dict[str, Any]) -> str:
    name = model["metadata"]["name"]
    return f"{name}-{job_key(parse_speech_model(model['spec'], name=name))}"


async def job_for(cluster: Cluster, model: dict[str, Any]) -> dict[str, Any]:
    """The download Job of `model`'s current revision and scheduling, once the operator made it."""
    name = job_name_of(model)
    return dict(await cluster.wait_for(lambda: cluster.obj(JOBS, name), f"Job {name}"))


async def state(cluster: Cluster, wanted: str, name: str = "tiny") -> dict[str, Any]:
    def reached() -> Any:
        found = cluster.obj(SPEECH_MODELS, name)
        return found if found and (found.get("status") or {}).get("state") == wanted else None

    return dict(await cluster.wait_for(reached, f"SpeechModel {name} {wanted}"))


async def phase(cluster: Cluster, wanted: str, name: str = "english") -> dict[str, Any]:
    def reached() -> Any:
        found = cluster.obj(SRS, name)
        return found if found and (found.get("status") or {}).get("phase") == wanted else None

    return dict(await cluster.wait_for(reached, f"SpeechRecognizer {name} {wanted}"))


async def event(cluster: Cluster, reason: str) -> dict[str, Any]:
    def posted() -> Any:
        return next((e for e in cluster.events() if e.get("reason") == reason), None)

    return dict(await cluster.wait_for(posted, f"Event {reason}"))


async def job_completes(cluster: Cluster, job: dict[str, Any]) -> None:
    await cluster.set_status(JOBS, job["metadata"]["name"], {"active": 1, "ready": 1})
    complete = [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]
    done = {"active": 0, "ready": 0, "succeeded": 1, "conditions": complete}
    await cluster.set_status(JOBS, job["metadata"]["name"], done)


async def job_fails(cluster: Cluster, job: dict[str, Any], code: int) -> None:
    """A failed download pod (its termination message: the log's tail, FallbackToLogsOnError)
    and the Job's Failed condition, as the kubelet and the Job controller report them."""
    _, job_reason, line = FAILURES[code]
    job_name = job["metadata"]["name"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job_name}-x7k2p",
            "namespace": "default",
            "labels": {
                **job["spec"]["template"]["metadata"]["labels"],
                "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
                "batch.kubernetes.io/job-name": job_name,
            },
        },
        "spec": job["spec"]["template"]["spec"],
    }
    await cluster.create_raw("v1/pods", pod)
    terminated = {
        "exitCode": code,
        "reason": "Error",
        "message": f"fetching s3://models/whisper-tiny.en/ into /model-cache/tiny\n{line}\n",
        "finishedAt": "2026-12-01T10:00:00Z",
    }
    container = {"name": "fetch-model", "state": {"terminated": terminated}}
    await cluster.set_status(
        "v1/pods", pod["metadata"]["name"], {"phase": "Failed", "containerStatuses": [container]}
    )
    failed = [{"type": "Failed", "status": "True", "reason": job_reason, "message": "failed"}]
    await cluster.set_status(JOBS, job_name, {"failed": 1, "conditions": failed})


async def ready_model(cluster: Cluster, **spec: Any) -> dict[str, Any]:
    model = sample_speech_model(credentialsSecretRef={"name": SECRET}, **spec)
    await cluster.apply(model)
    await job_completes(cluster, await job_for(cluster, model))
    await state(cluster, "Ready")
    return model


async def test_a_speech_model_makes_its_claim_and_download_job(cluster: Cluster) -> None:
    model = sample_speech_model(credentialsSecretRef={"name": SECRET})
    await cluster.apply(model)
    job = await job_for(cluster, model)
    claim = cluster.obj(CLAIMS, "tiny")
    stored = cluster.obj(SPEECH_MODELS, "tiny")
    assert claim is not None and stored is not None
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": "shared",
    }
    for child in (claim, job):
        [owner] = child["metadata"]["ownerReferences"]
        assert owner["kind"] == "SpeechModel" and owner["uid"] == stored["metadata"]["uid"]
        assert owner["controller"] is True
        valid(child)

    spec = job["spec"]
    assert spec["backoffLimit"] == 3 and spec["ttlSecondsAfterFinished"] == 3600
    [permanent, disruption] = spec["podFailurePolicy"]["rules"]
    assert permanent["action"] == "FailJob"
    assert permanent["onExitCodes"]["values"] == [2, 4, 5] == list(c.FETCH_PERMANENT_EXIT_CODES)
    assert disruption["action"] == "Ignore"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and "initContainers" not in pod
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert container["image"] == "ghcr.io/asrfleet/asr-server:0.1.0"
    assert container["command"] == ["asr-server"]
    assert container["args"] == [
        "fetch-model", "--engine", "faster-whisper", model["spec"]["uri"], "/model-cache/tiny",
    ]  # fmt: skip
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert {e["name"] for e in container["env"]} == set(c.FETCH_SECRET_VARIABLES)
    for entry in container["env"]:  # by reference only: no secret value in any manifest
        assert entry["valueFrom"]["secretKeyRef"] == {
            "name": SECRET, "key": entry["name"], "optional": True,
        }  # fmt: skip
    assert {"name": "model-cache", "mountPath": "/model-cache"} in container["volumeMounts"]
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "tiny"}} in pod["volumes"]

    found = await state(cluster, "Pending")
    assert found["status"]["claimName"] == "tiny" and found["status"]["path"] == "tiny"
    assert found["status"]["jobName"] == job["metadata"]["name"]
    assert condition(found, "Ready")["status"] == "False"
    assert condition(found, "Progressing")["status"] == "True"


async def test_the_deployment_waits_for_the_model_then_mounts_it_read_only(
    cluster: Cluster,
) -> None:
    model = sample_speech_model(credentialsSecretRef={"name": SECRET})
    await cluster.apply(model)
    await cluster.apply(sample_sr(model=USES_TINY))
    job = await job_for(cluster, model)
    waiting = await phase(cluster, "Pending")
    assert condition(waiting, "Ready")["reason"] == "WaitingForModel"
    assert "SpeechModel tiny is Pending" in condition(waiting, "Ready")["message"]
    await cluster.wait_for(lambda: cluster.obj(SERVICES, "english"), "service")
    assert cluster.obj(DEPLOYMENTS, "english") is None, "no pods before the model is there"

    await cluster.set_status(JOBS, job["metadata"]["name"], {"active": 1, "ready": 1})
    await state(cluster, "Downloading")
    await event(cluster, "Downloading")
    assert cluster.obj(DEPLOYMENTS, "english") is None

    await job_completes(cluster, job)
    dep = await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, "english"), "deployment")
    ready = await state(cluster, "Ready")
    claim = cluster.obj(CLAIMS, "tiny")
    assert claim is not None
    assert ready["status"]["cached"] == {
        "uri": model["spec"]["uri"],
        "engine": "faster-whisper",
        "revision": revision_of(model),
        "claimUID": claim["metadata"]["uid"],
    }
    assert condition(ready, "Ready")["reason"] == "ModelReady"
    assert (await event(cluster, "ModelReady"))["type"] == "Normal"

    template = dep["spec"]["template"]
    pod = template["spec"]
    assert "initContainers" not in pod, "no download per pod"
    [server] = pod["containers"]
    cache = {
        "name": "model-cache",
        "persistentVolumeClaim": {"claimName": "tiny", "readOnly": True},
    }
    assert cache in pod["volumes"]
    assert {"name": "model-cache", "mountPath": "/model-cache", "readOnly": True} in server[
        "volumeMounts"
    ]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["ASR_MODEL"] == "/model-cache/tiny"
    assert not set(env) & set(c.FETCH_SECRET_VARIABLES)
    assert SECRET not in json.dumps(dep), "the credentials never reach the server pods"
    assert template["metadata"]["annotations"][REVISION_ANNOTATION] == revision_of(model)
    valid(dep)
    sr = cluster.obj(SRS, "english")
    assert sr is not None and sr["status"]["model"]["name"] == "tiny"


@pytest.mark.parametrize("code", sorted(FAILURES))
async def test_a_failed_download_is_reported_with_fetch_models_reason(
    cluster: Cluster, code: int
) -> None:
    reason, _, line = FAILURES[code]
    model = sample_speech_model(credentialsSecretRef={"name": SECRET})
    await cluster.apply(model)
    await cluster.apply(sample_sr(model=USES_TINY))
    await job_fails(cluster, await job_for(cluster, model), code)

    failed = await state(cluster, "Failed")
    degraded = condition(failed, "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == reason
    assert degraded["message"] == line
    assert condition(failed, "Ready")["status"] == "False"
    warning = await event(cluster, reason)
    assert warning["type"] == "Warning" and warning["message"] == line
    assert warning["involvedObject"]["kind"] == "SpeechModel"

    sr = await phase(cluster, "Degraded")
    assert condition(sr, "Degraded")["reason"] == "SpeechModelFailed"
    assert line in condition(sr, "Degraded")["message"]
    assert cluster.obj(DEPLOYMENTS, "english") is None


async def test_new_scheduling_replaces_the_download_job_but_never_downloads_again(
    cluster: Cluster,
) -> None:
    model = sample_speech_model(credentialsSecretRef={"name": SECRET})
    await cluster.apply(model)
    unschedulable = (await job_for(cluster, model))["metadata"]["name"]
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    tolerant = sample_speech_model(
        credentialsSecretRef={"name": SECRET},
        nodeSelector={"pool": "gpu"},
        tolerations=[toleration],
    )
    await cluster.apply(tolerant)
    job = await job_for(cluster, tolerant)
    assert job["metadata"]["name"] != unschedulable
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["tolerations"] == [toleration]
    valid(job)
    await cluster.wait_for(
        lambda: cluster.obj(JOBS, unschedulable) is None, "the unschedulable Job deleted"
    )
    await job_completes(cluster, job)
    ready = await state(cluster, "Ready")
    assert ready["status"]["cached"]["revision"] == revision_of(model), "the same model"

    await cluster.apply(model)  # scheduling back to the default: the claim holds the model
    await cluster.wait_for(
        lambda: cluster.obj(JOBS, job["metadata"]["name"]) is None, "the finished Job deleted"
    )

    def reconciled() -> Any:
        found = cluster.obj(SPEECH_MODELS, "tiny")
        status = (found or {}).get("status") or {}
        done = found and status.get("observedGeneration") == found["metadata"]["generation"]
        return found if done else None

    again = await cluster.wait_for(reconciled, "the new generation reconciled")
    assert again["status"]["state"] == "Ready"
    assert cluster.obj(JOBS, unschedulable) is None, "no new download"


async def test_a_new_revision_downloads_beside_the_old_one_and_rolls_the_fleet(
    cluster: Cluster,
) -> None:
    old = await ready_model(cluster)
    await cluster.apply(sample_sr(model=USES_TINY))
    dep = await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, "english"), "deployment")
    old_revision = revision_of(old)
    assert dep["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION] == old_revision

    new = sample_speech_model(
        credentialsSecretRef={"name": SECRET}, uri="s3://models/whisper-tiny.en-v2/"
    )
    await cluster.apply(new)
    job = await job_for(cluster, new)
    await cluster.wait_for(
        lambda: cluster.obj(JOBS, f"tiny-{old_revision}") is None, "the old revision's Job deleted"
    )
    pending = await state(cluster, "Pending")
    assert pending["status"]["cached"]["revision"] == old_revision, "the old one is still served"
    running = cluster.obj(DEPLOYMENTS, "english")
    assert running is not None
    annotations = running["spec"]["template"]["metadata"]["annotations"]
    assert annotations[REVISION_ANNOTATION] == old_revision

    await job_completes(cluster, job)

    def rolled() -> Any:
        found = cluster.obj(DEPLOYMENTS, "english")
        notes = found["spec"]["template"]["metadata"]["annotations"] if found else {}
        return found if notes.get(REVISION_ANNOTATION) == revision_of(new) else None

    await cluster.wait_for(rolled, "the Deployment rolled to the new revision")
    ready = await state(cluster, "Ready")
    assert ready["status"]["cached"]["uri"] == "s3://models/whisper-tiny.en-v2/"


async def test_deleting_one_speech_recognizer_keeps_the_cache_another_uses(
    cluster: Cluster,
) -> None:
    await ready_model(cluster)
    await cluster.apply(sample_sr(model=USES_TINY))
    await cluster.apply(sample_sr("second", model=USES_TINY))
    await cluster.wait_for(lambda: cluster.obj(DEPLOYMENTS, "second"), "second deployment")
    await cluster.kubectl("delete", "speechrecognizer", "english")
    await cluster.wait_for(lambda: cluster.obj(SRS, "english") is None, "english deleted")
    await asyncio.sleep(3 * RESYNC_SECONDS)  # sweeps ran meanwhile

    claim = cluster.obj(CLAIMS, "tiny")
    assert claim is not None, "the cache outlives a SpeechRecognizer that used it"
    assert [ref["kind"] for ref in claim["metadata"]["ownerReferences"]] == ["SpeechModel"]
    assert cluster.obj(SPEECH_MODELS, "tiny") is not None
    assert cluster.obj(DEPLOYMENTS, "second") is not None
    deletes = [r for r in cluster.writes() if r.method.value == "DELETE" and r.resource is not None]
    assert not [r for r in deletes if r.resource.plural in ("persistentvolumeclaims", "jobs")]


async def test_claim_changes_and_an_existing_claim(cluster: Cluster) -> None:
    await ready_model(cluster)
    grown = sample_speech_model(credentialsSecretRef={"name": SECRET})
    grown["spec"]["storage"]["size"] = "2Gi"
    await cluster.apply(grown)

    def resized() -> Any:
        found = cluster.obj(CLAIMS, "tiny")
        return found and found["spec"]["resources"]["requests"]["storage"] == "2Gi"

    await cluster.wait_for(resized, "the claim grown")
    assert (await state(cluster, "Ready"))["status"]["claimName"] == "tiny"

    mine = sample_speech_model(
        credentialsSecretRef={"name": SECRET}, storage={"existingClaim": "team-models"}
    )
    await cluster.apply(mine)
    await cluster.wait_for(lambda: cluster.obj(CLAIMS, "tiny") is None, "the own claim deleted")
    missing = await state(cluster, "Pending")
    assert condition(missing, "Ready")["reason"] == "ClaimNotFound"
    assert missing["status"].get("cached") is None, "a new claim holds nothing yet"

    team_claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "team-models", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "50Gi"}}},
    }
    await cluster.create_raw(CLAIMS, team_claim)
    job = await job_for(cluster, mine)  # the sweep finds the claim
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "team-models"}} in volumes
    await job_completes(cluster, job)
    assert (await state(cluster, "Ready"))["status"]["claimName"] == "team-models"
    team = cluster.obj(CLAIMS, "team-models")
    assert team is not None and "ownerReferences" not in team["metadata"], "never adopted"


async def test_an_invalid_speech_model_is_failed_with_every_problem(cluster: Cluster) -> None:
    # Valid for kubectl here (the emulator checks no schema), wrong for the operator.
    await cluster.apply(sample_speech_model(uri="pvc://models/tiny", storage={"size": "0"}))
    failed = await state(cluster, "Failed")
    message = condition(failed, "Degraded")["message"]
    assert condition(failed, "Degraded")["reason"] == "InvalidSpec"
    assert "spec.uri: must match" in message and "spec.storage.size" in message
    assert (await event(cluster, "InvalidSpec"))["type"] == "Warning"
    assert cluster.obj(CLAIMS, "tiny") is None and not cluster.listed(JOBS)


async def test_the_cache_uses_exactly_the_verbs_the_chart_grants_it(cluster: Cluster) -> None:
    """Every request the operator makes for the cache, in one life of a SpeechModel: made, a
    failed download, grown, a new revision, moved to an existing claim. The chart test checks
    that the chart grants the same table."""
    model = sample_speech_model(credentialsSecretRef={"name": SECRET})
    await cluster.apply(model)
    await cluster.apply(sample_sr(model=USES_TINY))
    await job_fails(cluster, await job_for(cluster, model), 5)
    await state(cluster, "Failed")
    model["spec"]["storage"]["size"] = "2Gi"
    model["spec"]["uri"] = "s3://models/whisper-tiny.en-v2/"
    await cluster.apply(model)
    await job_completes(cluster, await job_for(cluster, model))
    await state(cluster, "Ready")
    moved = sample_speech_model(storage={"existingClaim": "team-models"})
    await cluster.apply(moved)
    await cluster.wait_for(lambda: cluster.obj(CLAIMS, "tiny") is None, "the own claim deleted")
    await state(cluster, "Pending")

    used = verbs_used(cluster.emu.emulator)
    assert {key: used.get(key) for key in CACHE_VERBS} == CACHE_VERBS
