"""The HorizontalPodAutoscaler (autoscaling/v2) on the inference Deployment."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.labels import metadata
from asrfleet_operator.spec import SpeechRecognizerSpec

INFLIGHT_METRIC = "asr_inflight_requests"  # served to the HPA by a metrics adapter
DEFAULT_CPU_UTILIZATION = 80  # when autoscaling names no target at all


def metrics(spec: SpeechRecognizerSpec) -> list[dict[str, Any]]:
    scaling = spec.autoscaling
    assert scaling is not None
    result: list[dict[str, Any]] = []
    if scaling.target_inflight_requests is not None:
        result.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": INFLIGHT_METRIC},
                    "target": {
                        "type": "AverageValue",
                        "averageValue": str(scaling.target_inflight_requests),
                    },
                },
            }
        )
    cpu = scaling.target_cpu_utilization
    if cpu is None and not result and not scaling.metrics:
        cpu = DEFAULT_CPU_UTILIZATION
    if cpu is not None:
        result.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": cpu},
                },
            }
        )
    result.extend(dict(m) for m in scaling.metrics)
    return result


def hpa(name: str, namespace: str, spec: SpeechRecognizerSpec) -> dict[str, Any] | None:
    """None when autoscaling is off or the fleet is suspended (the HPA would scale it back up)."""
    scaling = spec.autoscaling
    if scaling is None or spec.suspend:
        return None
    body: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": metrics(spec),
    }
    if scaling.behavior:
        body["behavior"] = dict(scaling.behavior)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, namespace),
        "spec": body,
    }
