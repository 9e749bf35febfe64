"""A SpeechModel's claim and download Job, and what a SpeechRecognizer's pods get from it:
the render rules a user would look at."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asrfleet_operator.render import DEPLOYMENT, desired_children
from asrfleet_operator.render.speech_model import (
    REVISION_ANNOTATION,
    CachedModel,
    claim,
    fetch_job,
    job_name,
    revision,
    shown_uri,
)
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import MAX_NAME_LENGTH, parse_spec, parse_speech_model
from asrfleet_operator.spec import contract as c

SETTINGS = Settings(inference_image="registry.local:5000/asr-server:1.2")
LARGE = {
    "uri": "hf://Systran/faster-whisper-large-v3@edaa852",
    "credentialsSecretRef": {"name": "hf-token"},
    "storage": {"size": "10Gi", "storageClassName": "nfs-rwx", "accessModes": ["ReadWriteMany"]},
}
CACHED = CachedModel(claim="large-v3", path="large-v3", revision="0123456789")


def job(spec: dict[str, Any] = LARGE, name: str = "large-v3") -> dict[str, Any]:
    return fetch_job(name, "speech", parse_speech_model(spec, name=name), SETTINGS)


def pod_of(user: dict[str, Any], cached: CachedModel | None) -> dict[str, Any] | None:
    children = desired_children(
        "fleet", "speech", parse_spec(user, name="fleet"), SETTINGS, "", cached
    )
    deployment = children.get(DEPLOYMENT)
    return None if deployment is None else dict(deployment["spec"]["template"])


def test_the_claim_is_named_after_the_model_and_sized_as_asked() -> None:
    made = claim("large-v3", "speech", parse_speech_model(LARGE, name="large-v3"))
    assert made is not None and made["metadata"]["name"] == "large-v3"
    assert made["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "10Gi"}},
        "storageClassName": "nfs-rwx",
    }
    default = parse_speech_model({"uri": "s3://m/w", "storage": {"size": "4Gi"}}, name="w")
    made = claim("w", "speech", default)
    assert made is not None and made["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in made["spec"], "the cluster's default class"


def test_an_existing_claim_is_never_made() -> None:
    spec = parse_speech_model({"uri": "s3://m/w", "storage": {"existingClaim": "team"}}, name="w")
    assert claim("w", "speech", spec) is None
    volumes = fetch_job("w", "speech", spec, SETTINGS)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "team"}} in volumes


def test_the_job_runs_fetch_model_non_root_with_the_secret_in_its_container_only() -> None:
    made = job()
    spec = made["spec"]
    assert spec["backoffLimit"] == 3 and spec["ttlSecondsAfterFinished"] == 3600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert (
        pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["fsGroup"] == 10001
    )
    [container] = pod["containers"]
    assert container["image"] == "registry.local:5000/asr-server:1.2"
    assert container["args"] == [
        "fetch-model", "--engine", "faster-whisper", LARGE["uri"], "/model-cache/large-v3",
    ]  # fmt: skip
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"]]
    assert refs == [
        {"name": "hf-token", "key": k, "optional": True} for k in c.FETCH_SECRET_VARIABLES
    ]
    assert not any("value" in e for e in container["env"]), "no secret value in the manifest"


def test_permanent_failures_fail_the_job_at_once_and_evictions_do_not_count() -> None:
    rules = job()["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "fetch-model", "operator": "In", "values": [2, 4, 5]},
    }
    assert rules[1]["action"] == "Ignore"
    assert rules[1]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]


def test_a_new_uri_or_engine_is_a_new_revision_and_a_new_job() -> None:
    other = {**LARGE, "uri": "hf://Systran/faster-whisper-large-v3@0000000"}
    assert job(other)["metadata"]["name"] != job()["metadata"]["name"]
    again = {**LARGE, "storage": {"size": "20Gi"}}  # not what the claim holds
    assert job(again)["metadata"]["name"] == job()["metadata"]["name"]


def test_scheduling_goes_on_the_job_pod_and_a_change_is_a_new_job_of_the_same_revision() -> None:
    pod = job()["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod, "any node, by default"
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    gpu = {**LARGE, "nodeSelector": {"pool": "gpu"}, "tolerations": [toleration]}
    pod = job(gpu)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["tolerations"] == [toleration]
    assert job(gpu)["metadata"]["name"] != job()["metadata"]["name"], "a pod template is immutable"
    retainted = {**gpu, "tolerations": [{**toleration, "effect": "NoExecute"}]}
    assert job(retainted)["metadata"]["name"] != job(gpu)["metadata"]["name"]
    revisions = {
        job(s)["metadata"]["annotations"][REVISION_ANNOTATION] for s in (LARGE, gpu, retainted)
    }
    assert len(revisions) == 1, "the claim holds the same model: it is not downloaded again"


def test_the_job_name_fits_a_label_for_the_longest_model_name() -> None:
    name = "m" * MAX_NAME_LENGTH
    rev = revision(parse_speech_model(LARGE, name=name))
    assert len(job_name(name, rev)) == 63


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://user:pw@models.example/w.tgz", "https://***@models.example/w.tgz"),
        ("https://models.example/w.tgz?X-Amz-Signature=s", "https://models.example/w.tgz?***"),
        ("s3://models/w.tgz#sha256=ab", "s3://models/w.tgz#sha256=ab"),
        ("hf://org/repo@v2/int8", "hf://org/repo@v2/int8"),
    ],
)
def test_what_may_be_secret_is_not_shown(uri: str, shown: str) -> None:
    assert shown_uri(uri) == shown
    assert (
        "pw" not in job({**LARGE, "uri": uri})["metadata"]["annotations"]["asrfleet.io/model-uri"]
    )


def test_a_speech_recognizer_waits_for_its_model_then_mounts_it_read_only() -> None:
    user = {"model": {"speechModelRef": {"name": "large-v3"}}}
    assert pod_of(user, None) is None, "no Deployment before the claim holds the model"
    template = pod_of(user, CACHED)
    assert template is not None
    pod = template["spec"]
    assert "initContainers" not in pod
    [server] = pod["containers"]
    assert {"name": "model-cache", "mountPath": "/model-cache", "readOnly": True} in server[
        "volumeMounts"
    ]
    cache = {
        "name": "model-cache",
        "persistentVolumeClaim": {"claimName": "large-v3", "readOnly": True},
    }
    assert cache in pod["volumes"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["ASR_MODEL"] == "/model-cache/large-v3"
    assert template["metadata"]["annotations"]["asrfleet.io/model-revision"] == "0123456789"
    newer = pod_of(user, CachedModel("large-v3", "large-v3", "abcdefabcd"))
    assert newer is not None and newer != template, "a new revision rolls the pods"


def test_a_uri_models_credentials_go_to_the_init_container_only() -> None:
    user = {"model": {"uri": "s3://models/large-v3/", "credentialsSecretRef": {"name": "s3"}}}
    template = pod_of(user, None)
    assert template is not None
    [init] = template["spec"]["initContainers"]
    assert {e["name"] for e in init["env"]} == set(c.FETCH_SECRET_VARIABLES)
    assert all(e["valueFrom"]["secretKeyRef"]["name"] == "s3" for e in init["env"])
    [server] = template["spec"]["containers"]
    assert '"s3"' not in json.dumps(server["env"]), "never in the server container"
    plain = pod_of({"model": {"uri": "s3://models/large-v3/"}}, None)
    assert plain is not None and "env" not in plain["spec"]["initContainers"][0]
