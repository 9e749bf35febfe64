"""scripts/images/podman_run.py: the pod spec the operator renders for examples/cpu-english.yaml
becomes the podman flags the image smoke test runs, field by field, and what podman cannot
reproduce is refused rather than dropped."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from asrfleet_operator.render import DEPLOYMENT, desired_children
from asrfleet_operator.render.speech_model import CachedModel, fetch_job
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import parse_spec, parse_speech_model
from podman_run import HttpProbe, PodmanRun, PodMeta, UnsupportedPodSpec, podman_run

REPO = Path(__file__).resolve().parents[4]
CONTAINER = "asr-server"


def rendered_pod_spec(example: str) -> dict[str, Any]:
    manifest = yaml.safe_load((REPO / "examples" / example).read_text(encoding="utf-8"))
    name = manifest["metadata"]["name"]
    spec = parse_spec(manifest["spec"], name=name)
    deployment = desired_children(name, "default", spec, Settings())[DEPLOYMENT]
    assert deployment is not None
    return dict(deployment["spec"]["template"]["spec"])


@pytest.fixture(scope="module")
def pod_spec() -> dict[str, Any]:
    return rendered_pod_spec("cpu-english.yaml")


@pytest.fixture(scope="module")
def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod_spec["containers"] if c["name"] == CONTAINER)


@pytest.fixture(scope="module")
def run(pod_spec: dict[str, Any]) -> PodmanRun:
    return podman_run(pod_spec, CONTAINER)


def values_of(run: PodmanRun, flag: str) -> list[str]:
    options = list(run.options)
    return [options[i + 1] for i, option in enumerate(options) if option == flag]


def test_user_and_groups_are_the_rendered_ones(run: PodmanRun, pod_spec: dict[str, Any]) -> None:
    security = pod_spec["containers"][0]["securityContext"]
    assert values_of(run, "--user") == [f"{security['runAsUser']}:{security['runAsGroup']}"]
    assert values_of(run, "--group-add") == [str(pod_spec["securityContext"]["fsGroup"])]
    assert security["runAsUser"] != 0


def test_read_only_root_without_podmans_own_tmpfs_dirs(run: PodmanRun) -> None:
    assert "--read-only" in run.options
    assert "--read-only-tmpfs=false" in run.options


def test_capabilities_and_privilege_escalation(run: PodmanRun, container: dict[str, Any]) -> None:
    assert values_of(run, "--cap-drop") == container["securityContext"]["capabilities"]["drop"]
    assert values_of(run, "--security-opt") == ["no-new-privileges"]


def test_every_emptydir_is_an_empty_sized_tmpfs_at_its_mount_path(
    run: PodmanRun, pod_spec: dict[str, Any], container: dict[str, Any]
) -> None:
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    mounts = [dict(f.split("=", 1) if "=" in f else (f, "") for f in m.split(","))
              for m in values_of(run, "--mount")]  # fmt: skip
    assert len(mounts) == len(container["volumeMounts"]) >= 2
    for mount, rendered in zip(mounts, container["volumeMounts"], strict=True):
        assert mount["type"] == "tmpfs"
        assert mount["destination"] == rendered["mountPath"]
        assert "notmpcopyup" in mount  # an emptyDir hides the image's files at that path
        size = volumes[rendered["name"]]["emptyDir"]["sizeLimit"]
        assert int(mount["tmpfs-size"]) == {"1Gi": 2**30, "4Gi": 4 * 2**30}[size]
    assert {m["destination"] for m in mounts} >= {"/tmp", "/models"}


def test_env_command_and_args_as_rendered(run: PodmanRun, container: dict[str, Any]) -> None:
    assert values_of(run, "--env") == [f"{e['name']}={e['value']}" for e in container["env"]]
    assert json.loads(values_of(run, "--entrypoint")[0]) == container["command"]
    assert list(run.args) == container["args"]
    assert run.image == container["image"]
    assert run.argv("--name", "x")[:4] == ["podman", "run", "--name", "x"]
    assert run.argv()[-len(run.args) - 1 :] == [run.image, *run.args]


def test_port_probes_and_grace(run: PodmanRun, pod_spec: dict[str, Any]) -> None:
    assert run.ports == {"http": 8080}
    assert values_of(run, "--publish") == ["127.0.0.1::8080"]
    assert run.probes["readiness"] == HttpProbe("/readyz", 8080)
    assert run.probes["liveness"] == HttpProbe("/healthz", 8080)
    assert run.grace_seconds == pod_spec["terminationGracePeriodSeconds"]
    assert values_of(run, "--stop-timeout") == [str(run.grace_seconds)]
    assert values_of(run, "--health-cmd") == ["none"]  # the kubelet ignores HEALTHCHECK


def test_limits_become_cpus_and_memory(run: PodmanRun) -> None:
    # examples/cpu-english.yaml: limits {cpu: "2", memory: 2Gi}
    assert values_of(run, "--cpus") == ["2"]
    assert values_of(run, "--memory") == [str(2 * 2**30)]


def test_millicores_and_pod_level_user(pod_spec: dict[str, Any]) -> None:
    spec = copy.deepcopy(pod_spec)
    container = spec["containers"][0]
    container["resources"] = {"limits": {"cpu": "500m"}}
    del container["securityContext"]["runAsUser"], container["securityContext"]["runAsGroup"]
    spec["securityContext"].update(runAsUser=4242, runAsGroup=4343)
    run = podman_run(spec, CONTAINER)
    assert values_of(run, "--cpus") == ["0.5"]
    assert values_of(run, "--user") == ["4242:4343"]


@pytest.mark.parametrize(
    ("example", "match"),
    [
        ("custom-model-uri.yaml", "init containers"),  # a uri model is fetched first
        ("gpu-mandarin.yaml", "nvidia.com/gpu"),  # no GPU to give
    ],
)
def test_what_podman_cannot_reproduce_is_refused(example: str, match: str) -> None:
    with pytest.raises(UnsupportedPodSpec, match=match):
        podman_run(rendered_pod_spec(example), CONTAINER)


def test_secret_env_other_volumes_and_root_are_refused(pod_spec: dict[str, Any]) -> None:
    secret = copy.deepcopy(pod_spec)
    secret["containers"][0]["env"].append(
        {"name": "ASR_API_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "t"}}}
    )
    claim = copy.deepcopy(pod_spec)
    claim["volumes"][0] = {"name": "tmp", "persistentVolumeClaim": {"claimName": "c"}}
    root = copy.deepcopy(pod_spec)
    root["containers"][0]["securityContext"]["runAsUser"] = 0
    other = copy.deepcopy(pod_spec)
    other["volumes"][0] = {"name": "tmp", "hostPath": {"path": "/"}}
    cases = (
        (secret, "ASR_API_KEY needs the key t of the Secret k"),
        (claim, "the claim c: no directory given"),
        (other, "not an emptyDir"),
        (root, "non-zero"),
    )
    for spec, match in cases:
        with pytest.raises(UnsupportedPodSpec, match=match):
            podman_run(spec, CONTAINER)
    with pytest.raises(UnsupportedPodSpec, match="no container 'operator'"):
        podman_run(pod_spec, "operator")


def test_downward_api_env_resolves_as_the_kubelet_does(pod_spec: dict[str, Any]) -> None:
    """The chart's operator reads its Lease namespace from metadata.namespace (a fieldRef)."""
    spec = copy.deepcopy(pod_spec)
    spec["serviceAccountName"] = "asrfleet"
    for name, path in (
        ("POD_NAMESPACE", "metadata.namespace"),
        ("POD_NAME", "metadata.name"),
        ("ACCOUNT", "spec.serviceAccountName"),
    ):
        spec["containers"][0]["env"].append(
            {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
        )
    run = podman_run(spec, CONTAINER, pod=PodMeta(name="asrfleet-0", namespace="asrfleet"))
    env = values_of(run, "--env")
    assert {"POD_NAMESPACE=asrfleet", "POD_NAME=asrfleet-0", "ACCOUNT=asrfleet"} <= set(env)
    with pytest.raises(UnsupportedPodSpec, match="pass the pod's name and namespace"):
        podman_run(spec, CONTAINER)
    spec["containers"][0]["env"].append(
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    )
    with pytest.raises(UnsupportedPodSpec, match=r"IP reads status\.podIP"):
        podman_run(spec, CONTAINER, pod=PodMeta(name="p", namespace="n"))


def test_a_speech_models_job_mounts_its_claim_and_takes_the_secret_from_podmans_env(
    tmp_path: Path,
) -> None:
    model = parse_speech_model(
        {
            "uri": "s3://models/w/",
            "credentialsSecretRef": {"name": "s3"},
            "storage": {"size": "1Gi"},
        },
        name="w",
    )
    pod = fetch_job("w", "default", model, Settings())["spec"]["template"]["spec"]
    secret = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    run = podman_run(pod, "fetch-model", claims={"w": tmp_path}, secrets={"s3": secret})
    assert f"type=bind,source={tmp_path},destination=/model-cache" in values_of(run, "--mount")
    assert run.secret_env == secret, "absent optional keys stay unset"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(values_of(run, "--env"))
    assert "s3cr3t-value" not in " ".join(run.argv()), "never on the command line"
    assert run.args[:1] == ("fetch-model",)


def test_a_cached_models_claim_is_mounted_read_only(tmp_path: Path) -> None:
    user = parse_spec({"model": {"speechModelRef": {"name": "w"}}}, name="fleet")
    cached = CachedModel(claim="w", path="w", revision="r")
    deployment = desired_children("fleet", "default", user, Settings(), "", cached)[DEPLOYMENT]
    assert deployment is not None
    run = podman_run(deployment["spec"]["template"]["spec"], CONTAINER, claims={"w": tmp_path})
    mount = f"type=bind,source={tmp_path},destination=/model-cache,ro=true"
    assert mount in values_of(run, "--mount")
