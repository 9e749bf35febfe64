"""Render rules, each checked on the fields a user would look at."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render import desired_children
from asrfleet_operator.render.deployment import deployment
from asrfleet_operator.render.hpa import hpa
from asrfleet_operator.render.labels import CONFIG_CHECKSUM_ANNOTATION, selector_labels
from asrfleet_operator.render.pdb import pdb
from asrfleet_operator.render.service import service
from asrfleet_operator.render.servicemonitor import service_monitor
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import parse_spec

SETTINGS = Settings()


def dep(spec: dict[str, Any], checksum: str = "") -> dict[str, Any]:
    return deployment("fleet", "speech", parse_spec(spec, name="fleet"), SETTINGS, checksum)


def pod(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = dep(spec)["spec"]["template"]["spec"]
    return result


def container(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod(spec)["containers"][0]
    return result


def env(spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(spec)["env"]}


CPU = {"model": {"name": "whisper-tiny.en"}}
GPU = {"model": {"name": "whisper-base"}, "gpu": {"count": 2}}


def test_container_runs_the_server_on_port_8080_named_http() -> None:
    c = container(CPU)
    assert c["name"] == "asr-server"
    assert c["command"] == ["asr-server"] and c["args"] == ["serve"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["image"] == "ghcr.io/asrfleet/asr-server:0.1.0"


def test_image_from_spec_or_settings() -> None:
    c = container(
        {**CPU, "image": {"repository": "my.reg/asr", "tag": "1.2", "pullPolicy": "Always"}}
    )
    assert c["image"] == "my.reg/asr:1.2" and c["imagePullPolicy"] == "Always"
    assert container({**CPU, "image": {"tag": "sha256:abc"}})["image"].endswith(
        "asr-server@sha256:abc"
    )
    assert pod({**CPU, "image": {"pullSecrets": ["regcred"]}})["imagePullSecrets"] == [
        {"name": "regcred"}
    ]


def test_the_default_image_follows_the_engine() -> None:
    torch = {"model": {"name": "whisper-base", "engine": "torch"}}
    assert container(torch)["image"] == "ghcr.io/asrfleet/asr-server:0.1.0-torch"
    assert env(torch)["ASR_ENGINE"] == "torch"
    assert container({**torch, "image": {"tag": "dev"}})["image"] == (
        "ghcr.io/asrfleet/asr-server:dev"
    )
    assert container({**torch, "image": {"repository": "my.reg/asr"}})["image"] == (
        "my.reg/asr:latest"
    )


def test_gpu_limits_toleration_node_selector_and_safe_rollout() -> None:
    spec = {**GPU, "gpu": {"count": 2, "product": "NVIDIA-A100-SXM4-40GB"}}
    c = container(spec)
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "2"
    p = pod(spec)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in p[
        "tolerations"
    ]
    assert p["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"}
    assert dep(spec)["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    assert env(spec)["ASR_DEVICE"] == "cuda"


def test_mig_resource_name_is_used_as_is() -> None:
    spec = {**GPU, "gpu": {"count": 1, "resourceName": "nvidia.com/mig-1g.10gb"}}
    limits = container(spec)["resources"]["limits"]
    assert limits["nvidia.com/mig-1g.10gb"] == "1" and "nvidia.com/gpu" not in limits


def test_rollout_overrides_the_gpu_default() -> None:
    spec = {**GPU, "rollout": {"maxSurge": 1, "maxUnavailable": "0%"}}
    assert dep(spec)["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "0%"}
    assert dep({**GPU, "rollout": {"strategy": "Recreate"}})["spec"]["strategy"] == {
        "type": "Recreate"
    }


def test_cpu_mode_has_no_gpu_and_surges_without_losing_capacity() -> None:
    c = container(CPU)
    assert not any("gpu" in k for k in c["resources"].get("limits", {}))
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert "tolerations" not in pod(CPU) and "nodeSelector" not in pod(CPU)
    assert dep(CPU)["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert env(CPU)["ASR_DEVICE"] == "cpu"


def test_user_resources_and_gpu_limit_merge() -> None:
    spec = {**GPU, "resources": {"limits": {"memory": "8Gi"}, "requests": {"cpu": 2}}}
    res = container(spec)["resources"]
    assert res == {"limits": {"memory": "8Gi", "nvidia.com/gpu": "2"}, "requests": {"cpu": "2"}}


def test_probes_are_tuned_for_model_loading() -> None:
    c = container(CPU)
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/readyz" and startup["httpGet"]["port"] == "http"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_env_contract_values() -> None:
    e = env(
        {
            "model": {"name": "whisper-base", "language": "zh", "outputScript": "traditional"},
            "server": {
                "maxQueue": 10,
                "requestTimeoutSeconds": 30.0,
                "apiKeySecretRef": {"name": "key", "key": "token"},
            },
        }
    )
    assert e["ASR_MODEL"] == "whisper-base" and e["ASR_MODEL_DIR"] == "/models"
    assert e["ASR_LANGUAGE"] == "zh" and e["ASR_OUTPUT_SCRIPT"] == "traditional"
    assert e["ASR_MAX_QUEUE"] == "10" and e["ASR_REQUEST_TIMEOUT_S"] == "30"
    assert e["ASR_API_KEY"] == {"secretKeyRef": {"name": "key", "key": "token"}}
    assert "ASR_MAX_CONCURRENCY" not in e  # unset: the server chooses
    assert "ASR_LANGUAGE" not in env(CPU)  # unset: detected per request


def test_streaming_settings_render_only_when_set() -> None:
    streaming = {"maxStreams": 8, "maxUtteranceSeconds": 12.5, "encoderContext": "full"}
    e = env({**CPU, "server": {"streaming": streaming}})
    assert e["ASR_MAX_STREAMS"] == "8" and e["ASR_STREAM_MAX_UTTERANCE_S"] == "12.5"
    assert e["ASR_STREAM_ENCODER_CONTEXT"] == "full"
    assert "ASR_STREAM_IDLE_TIMEOUT_S" not in e and "ASR_STREAM_ENDPOINT_SILENCE_MS" not in e
    assert not [name for name in env(CPU) if "STREAM" in name]  # unset: the server's defaults


def test_termination_grace_covers_the_drain() -> None:
    spec = {**CPU, "server": {"requestTimeoutSeconds": 300}}
    assert int(env(spec)["ASR_DRAIN_SECONDS"]) >= 300
    assert pod(spec)["terminationGracePeriodSeconds"] > int(env(spec)["ASR_DRAIN_SECONDS"])


def test_uri_model_is_fetched_by_an_init_container() -> None:
    spec = {"model": {"uri": "https://models.example/whisper-large"}}
    [init] = pod(spec)["initContainers"]
    assert init["command"] == ["asr-server"]
    assert init["args"] == [
        "fetch-model",
        "https://models.example/whisper-large",
        "/models/whisper-large",
    ]
    assert init["image"] == container(spec)["image"]
    assert env(spec)["ASR_MODEL"] == "/models/whisper-large"


def test_pvc_model_is_mounted_read_only() -> None:
    spec = {"model": {"uri": "pvc://models/whisper/large-v3"}}
    p = pod(spec)
    assert "initContainers" not in p
    assert {
        "name": "model-source",
        "persistentVolumeClaim": {"claimName": "models", "readOnly": True},
    } in p["volumes"]
    assert env(spec)["ASR_MODEL"] == "/model-source/whisper/large-v3"


def test_security_context_and_writable_dirs() -> None:
    c = container(CPU)
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod(CPU)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp", "/models"}


def test_scrape_annotations_and_checksum_roll_the_pods() -> None:
    meta = dep(CPU, checksum="abc")["spec"]["template"]["metadata"]
    assert meta["annotations"]["prometheus.io/scrape"] == "true"
    assert meta["annotations"]["prometheus.io/port"] == "8080"
    assert meta["annotations"][CONFIG_CHECKSUM_ANNOTATION] == "abc"
    other = dep(CPU, checksum="def")["spec"]["template"]
    assert other != dep(CPU, checksum="abc")["spec"]["template"]


def test_labels_and_selector() -> None:
    d = dep(CPU)
    labels = d["metadata"]["labels"]
    for key in ("name", "instance", "component", "managed-by", "part-of"):
        assert f"app.kubernetes.io/{key}" in labels
    assert d["spec"]["selector"]["matchLabels"] == selector_labels("fleet")
    assert d["spec"]["template"]["metadata"]["labels"] == labels
    assert (d["metadata"]["name"], d["metadata"]["namespace"]) == ("fleet", "speech")


def test_replicas_suspend_and_autoscaling() -> None:
    assert dep({**CPU, "replicas": 3})["spec"]["replicas"] == 3
    assert dep({**CPU, "replicas": 3, "suspend": True})["spec"]["replicas"] == 0
    auto = {**CPU, "autoscaling": {"minReplicas": 2, "maxReplicas": 4}}
    assert dep(auto)["spec"]["replicas"] == 2


def test_service_forwards_to_http() -> None:
    spec = parse_spec(
        {**CPU, "service": {"type": "LoadBalancer", "port": 8000, "annotations": {"a": "b"}}},
        name="fleet",
    )
    svc = service("fleet", "speech", spec)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert (
        svc["spec"]["ports"][0]["port"] == 8000 and svc["spec"]["ports"][0]["targetPort"] == "http"
    )
    assert svc["spec"]["selector"] == selector_labels("fleet")
    assert svc["metadata"]["annotations"] == {"a": "b"}


def test_hpa_metrics() -> None:
    spec = parse_spec(
        {
            **GPU,
            "autoscaling": {
                "maxReplicas": 8,
                "targetInflightRequests": 4,
                "targetCPUUtilizationPercentage": 70,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
            },
        },
        name="fleet",
    )
    h = hpa("fleet", "speech", spec)
    assert h is not None and h["apiVersion"] == "autoscaling/v2"
    assert h["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "fleet",
    }
    pods, cpu = h["spec"]["metrics"]
    assert pods["pods"]["metric"]["name"] == "asr_inflight_requests"
    assert pods["pods"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    assert cpu["resource"]["target"]["averageUtilization"] == 70
    assert h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    plain = parse_spec({**CPU, "autoscaling": {"maxReplicas": 3}}, name="fleet")
    assert hpa("fleet", "speech", plain)["spec"]["metrics"][0]["resource"]["name"] == "cpu"  # type: ignore[index]


def test_optional_children_absent_unless_asked() -> None:
    plain = parse_spec(CPU, name="fleet")
    assert hpa("fleet", "s", plain) is None and pdb("fleet", "s", plain) is None
    assert service_monitor("fleet", "s", plain) is None
    suspended = parse_spec(
        {**CPU, "suspend": True, "autoscaling": {"maxReplicas": 3}}, name="fleet"
    )
    assert hpa("fleet", "s", suspended) is None


def test_pdb_and_service_monitor() -> None:
    spec = parse_spec(
        {
            **CPU,
            "podDisruptionBudget": {},
            "monitoring": {"serviceMonitor": {"enabled": True, "interval": "15s"}},
        },
        name="fleet",
    )
    budget = pdb("fleet", "s", spec)
    assert budget is not None and budget["spec"]["maxUnavailable"] == 1
    monitor = service_monitor("fleet", "s", spec)
    assert monitor is not None
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert monitor["spec"]["selector"]["matchLabels"] == selector_labels("fleet")
    kinds = desired_children("fleet", "s", spec, SETTINGS)
    assert all(m is not None for k, m in kinds.items() if k.kind != "HorizontalPodAutoscaler")
