"""The inference Deployment."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.labels import metadata, selector_labels
from asrfleet_operator.render.pod import pod_template
from asrfleet_operator.render.speech_model import CachedModel
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import SpeechRecognizerSpec


def strategy(spec: SpeechRecognizerSpec) -> dict[str, Any]:
    """GPU fleets roll with maxSurge 0 / maxUnavailable 1: a surge pod would wait for a GPU that
    is not free. CPU fleets surge by one and keep every ready pod serving. `rollout` overrides."""
    rollout = spec.rollout
    if rollout.strategy == "Recreate":
        return {"type": "Recreate"}
    surge: int | str = 0 if spec.uses_gpu else 1
    unavailable: int | str = 1 if spec.uses_gpu else 0
    if rollout.max_surge is not None:
        surge = rollout.max_surge
    if rollout.max_unavailable is not None:
        unavailable = rollout.max_unavailable
    rolling = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"type": "RollingUpdate", "rollingUpdate": rolling}


def replicas(spec: SpeechRecognizerSpec) -> int:
    """Pods to run: 0 when suspended; with autoscaling the HPA owns the number after creation."""
    if spec.suspend:
        return 0
    if spec.autoscaling is not None:
        return max(spec.autoscaling.min_replicas, min(spec.replicas, spec.autoscaling.max_replicas))
    return spec.replicas


def deployment(
    name: str,
    namespace: str,
    spec: SpeechRecognizerSpec,
    settings: Settings,
    config_checksum: str = "",
    cached: CachedModel | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace),
        "spec": {
            "replicas": replicas(spec),
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 900,  # > the startup probe's 10 minutes of model loading
            "selector": {"matchLabels": selector_labels(name)},
            "strategy": strategy(spec),
            "template": pod_template(name, spec, settings, config_checksum, cached),
        },
    }
