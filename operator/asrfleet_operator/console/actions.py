"""Scale and suspend/resume: merge patches of a SpeechRecognizer's spec (pure; validated
against the object as it is now, so a refused action names the reason)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asrfleet_operator.console.errors import BadRequest, Conflict

MAX_REPLICAS = 1000
"""spec.replicas' maximum in the CRD (a unit test checks they agree)."""


def scale_patch(recognizer: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """`{"replicas": N}` -> the patch setting spec.replicas."""
    replicas = body.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise BadRequest("replicas must be an integer", code="invalid_field")
    if not 0 <= replicas <= MAX_REPLICAS:
        raise BadRequest(f"replicas must be 0-{MAX_REPLICAS}, got {replicas}", code="invalid_field")
    spec = recognizer.get("spec") or {}
    scaling = spec.get("autoscaling")
    if isinstance(scaling, Mapping) and scaling:
        raise Conflict(
            "this fleet is autoscaled (minReplicas"
            f" {scaling.get('minReplicas', 1)}, maxReplicas {scaling.get('maxReplicas')}):"
            " its HorizontalPodAutoscaler sets the size; change spec.autoscaling instead",
            code="autoscaled",
        )
    if spec.get("suspend"):
        raise Conflict("this fleet is suspended: resume it first", code="suspended")
    return {"spec": {"replicas": replicas}}


def suspend_patch(body: Mapping[str, Any]) -> dict[str, Any]:
    """`{"suspend": true|false}` -> the patch setting spec.suspend."""
    suspend = body.get("suspend")
    if not isinstance(suspend, bool):
        raise BadRequest("suspend must be true or false", code="invalid_field")
    return {"spec": {"suspend": suspend}}
