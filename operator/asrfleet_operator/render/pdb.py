"""The PodDisruptionBudget (policy/v1), only when the spec asks for one."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.labels import metadata, selector_labels
from asrfleet_operator.spec import SpeechRecognizerSpec


def pdb(name: str, namespace: str, spec: SpeechRecognizerSpec) -> dict[str, Any] | None:
    budget = spec.pod_disruption_budget
    if budget is None:
        return None
    body: dict[str, Any] = {"selector": {"matchLabels": selector_labels(name)}}
    if budget.min_available is not None:
        body["minAvailable"] = budget.min_available
    else:
        body["maxUnavailable"] = budget.max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace),
        "spec": body,
    }
