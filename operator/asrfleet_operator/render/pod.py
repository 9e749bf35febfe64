"""The pod template of the inference Deployment: container, probes, security, GPU scheduling."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.containers import (
    container_security_context,
    fetch_container,
    image_ref,
    pod_security_context,
    tmp_mount,
    tmp_volume,
)
from asrfleet_operator.render.env import (
    MODEL_DIR,
    MODEL_SOURCE_DIR,
    server_env,
    termination_grace_seconds,
)
from asrfleet_operator.render.labels import CONFIG_CHECKSUM_ANNOTATION, GROUP, HTTP_PORT, labels
from asrfleet_operator.render.speech_model import CACHE_MOUNT, CachedModel
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import SpeechRecognizerSpec

CONTAINER_NAME = "asr-server"
GPU_TOLERATION_KEY = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
MODEL_REVISION_ANNOTATION = f"{GROUP}/model-revision"
"""The revision of a SpeechModel the pods mount: a new one rolls them."""


def probes() -> dict[str, Any]:
    """Startup allows 10 minutes for a model load; after that readiness and liveness are brisk."""
    http: dict[str, Any] = {"port": "http", "scheme": "HTTP"}
    return {
        "startupProbe": {
            "httpGet": {**http, "path": "/readyz"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 60,
        },
        "readinessProbe": {
            "httpGet": {**http, "path": "/readyz"},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        },
        "livenessProbe": {
            "httpGet": {**http, "path": "/healthz"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }


def resources(spec: SpeechRecognizerSpec, settings: Settings) -> dict[str, Any]:
    """The user's resources (or defaults), plus the GPU limit under its resource name."""
    if spec.resources is not None:
        result: dict[str, Any] = {
            key: dict(value) if isinstance(value, dict) else value
            for key, value in spec.resources.items()
        }
    else:
        result = {
            "requests": {
                "cpu": settings.default_cpu_request,
                "memory": settings.default_memory_request,
            },
            "limits": {"memory": settings.default_memory_request},
        }
    if spec.uses_gpu:
        # Extended resources: the request defaults to the limit; MIG names work the same way.
        result["limits"] = {**result.get("limits", {}), spec.gpu.resource_name: str(spec.gpu.count)}
    return result


def tolerations(spec: SpeechRecognizerSpec) -> list[dict[str, Any]]:
    result = [dict(t) for t in spec.tolerations]
    if spec.uses_gpu and not any(t.get("key") == GPU_TOLERATION_KEY for t in result):
        result.append({"key": GPU_TOLERATION_KEY, "operator": "Exists", "effect": "NoSchedule"})
    return result


def node_selector(spec: SpeechRecognizerSpec) -> dict[str, str]:
    result = dict(spec.node_selector)
    if spec.uses_gpu and spec.gpu.product:
        result[GPU_PRODUCT_LABEL] = spec.gpu.product
    return result


def volumes_and_init(
    spec: SpeechRecognizerSpec,
    settings: Settings,
    image: str,
    pull_policy: str,
    cached: CachedModel | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, main container mounts, init containers) for the model cache and uri models."""
    volumes: list[dict[str, Any]] = [
        tmp_volume(),
        {"name": "models", "emptyDir": {"sizeLimit": settings.model_cache_size}},
    ]
    mounts: list[dict[str, Any]] = [tmp_mount(), {"name": "models", "mountPath": MODEL_DIR}]
    init: list[dict[str, Any]] = []
    uri = spec.model.uri
    if cached is not None:
        # A SpeechModel's claim holds the model: mounted read-only, nothing fetched per pod.
        source = {"claimName": cached.claim, "readOnly": True}
        volumes.append({"name": "model-cache", "persistentVolumeClaim": source})
        mounts.append({"name": "model-cache", "mountPath": CACHE_MOUNT, "readOnly": True})
    elif uri and uri.startswith("pvc://"):
        # A claim already holds the model: mount it read-only instead of copying it.
        claim = uri.removeprefix("pvc://").partition("/")[0]
        source = {"claimName": claim, "readOnly": True}
        volumes.append({"name": "model-source", "persistentVolumeClaim": source})
        mounts.append({"name": "model-source", "mountPath": MODEL_SOURCE_DIR, "readOnly": True})
    elif uri:
        init.append(
            fetch_container(
                image=image,
                pull_policy=pull_policy,
                uri=uri,
                dest=f"{MODEL_DIR}/{spec.model.served_name}",
                mounts=[tmp_mount(), {"name": "models", "mountPath": MODEL_DIR}],
                secret=spec.model.credentials_secret,
            )
        )
    return volumes, mounts, init


def pod_template(
    name: str,
    spec: SpeechRecognizerSpec,
    settings: Settings,
    config_checksum: str,
    cached: CachedModel | None = None,
) -> dict[str, Any]:
    image = image_ref(spec.image, settings.inference_image_for(spec.model.engine))
    pull_policy = spec.image.pull_policy or settings.image_pull_policy
    volumes, mounts, init = volumes_and_init(spec, settings, image, pull_policy, cached)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["asr-server"],
        "args": ["serve"],
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": server_env(spec, cached),
        "resources": resources(spec, settings),
        **probes(),
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": termination_grace_seconds(spec),
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    optional = {
        "initContainers": init,
        "nodeSelector": node_selector(spec),
        "tolerations": tolerations(spec),
        "affinity": dict(spec.affinity) if spec.affinity else None,
        "runtimeClassName": spec.runtime_class_name,
        "priorityClassName": spec.priority_class_name,
        "imagePullSecrets": [{"name": s} for s in spec.image.pull_secrets],
    }
    pod.update({key: value for key, value in optional.items() if value})
    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(HTTP_PORT),
        "prometheus.io/path": "/metrics",
        CONFIG_CHECKSUM_ANNOTATION: config_checksum,
    }
    if cached is not None:
        annotations[MODEL_REVISION_ANNOTATION] = cached.revision
    return {"metadata": {"labels": labels(name), "annotations": annotations}, "spec": pod}
