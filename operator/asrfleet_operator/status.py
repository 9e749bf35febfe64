"""SpeechRecognizer status from what really runs: the Deployment's status, plus any error.

Pure: the handlers pass in the Deployment as the API server returned it and write the result
only when it differs from the current status (no write when nothing changed).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asrfleet_operator.render.labels import selector_string
from asrfleet_operator.render.service import service_url
from asrfleet_operator.render.speech_model import shown_uri
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import SpeechRecognizerSpec

PENDING, PROGRESSING, READY, DEGRADED, SUSPENDED = (
    "Pending",
    "Progressing",
    "Ready",
    "Degraded",
    "Suspended",
)
CONDITION_TYPES = ("Ready", "Progressing", "Degraded")


@dataclass(frozen=True)
class Problem:
    """Why the fleet is Degraded: a CamelCase reason and a message for humans."""

    reason: str
    message: str


@dataclass(frozen=True)
class Phase:
    phase: str
    reason: str
    message: str


def rollout_phase(deployment: Mapping[str, Any] | None, spec: SpeechRecognizerSpec | None) -> Phase:
    """The phase the Deployment's own status implies."""
    if spec is not None and spec.suspend:
        return Phase(SUSPENDED, "Suspended", "spec.suspend is true: scaled to zero")
    if deployment is None:
        return Phase(PENDING, "DeploymentMissing", "the Deployment does not exist yet")
    status = deployment.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return Phase(DEGRADED, "ProgressDeadlineExceeded", str(cond.get("message", "")))
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            return Phase(DEGRADED, "ReplicaFailure", str(cond.get("message", "")))
    desired = int((deployment.get("spec") or {}).get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    generation = (deployment.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    stale = generation is not None and (observed is None or observed < generation)
    if not stale and ready >= desired and updated >= desired and total <= desired:
        return Phase(READY, "AllReplicasReady", f"{ready}/{desired} replicas ready")
    if total == 0 and ready == 0:
        return Phase(PENDING, "WaitingForPods", f"0/{desired} replicas ready")
    return Phase(PROGRESSING, "RolloutInProgress", f"{ready}/{desired} replicas ready")


def compute_status(
    *,
    name: str,
    namespace: str,
    generation: int | None,
    spec: SpeechRecognizerSpec | None,
    deployment: Mapping[str, Any] | None,
    problem: Problem | None,
    previous: Mapping[str, Any],
    settings: Settings,
    now: datetime.datetime | None = None,
    waiting: Problem | None = None,
) -> dict[str, Any]:
    """The full desired `status` (except kopf's own bookkeeping). `waiting`: why there is no
    Deployment yet, when the operator holds it back (its SpeechModel holds no model yet)."""
    phase = rollout_phase(deployment, spec)
    if deployment is None and waiting is not None:
        phase = Phase(PENDING, waiting.reason, waiting.message)
    if problem is not None:
        phase = Phase(DEGRADED, problem.reason, problem.message)
    dep_status = (deployment or {}).get("status") or {}
    replicas = int(dep_status.get("replicas") or 0)
    ready = int(dep_status.get("readyReplicas") or 0)
    status: dict[str, Any] = {
        "phase": phase.phase,
        "replicas": replicas,
        "readyReplicas": ready,
        "readyText": f"{ready}/{replicas}",
        "selector": selector_string(name),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    if spec is not None:
        status["url"] = service_url(name, namespace, spec, settings.cluster_domain)
        model = {"name": spec.model.served_name, "engine": spec.model.engine}
        if spec.model.uri:
            model["uri"] = shown_uri(spec.model.uri)  # a password in it is not shown
        status["model"] = model
    else:  # a bad edit: keep reporting what still runs
        for key in ("url", "model"):
            if key in previous:
                status[key] = previous[key]
    status["conditions"] = conditions(phase, generation, previous.get("conditions") or [], now)
    return status


def conditions(
    phase: Phase,
    generation: int | None,
    previous: list[Mapping[str, Any]],
    now: datetime.datetime | None = None,
    complete_reason: str = "RolloutComplete",
) -> list[dict[str, Any]]:
    """Ready, Progressing and Degraded from the phase; `complete_reason` is Progressing's
    reason once Ready."""
    truth = {
        "Ready": phase.phase == READY,
        "Progressing": phase.phase in (PENDING, PROGRESSING),
        "Degraded": phase.phase == DEGRADED,
    }
    idle_reason = {
        "Ready": phase.reason,
        "Progressing": complete_reason if phase.phase == READY else phase.reason,
        "Degraded": "AsExpected",
    }
    before = {str(c.get("type")): c for c in previous}
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = []
    for kind in CONDITION_TYPES:
        value = "True" if truth[kind] else "False"
        reason = phase.reason if truth[kind] else idle_reason[kind]
        message = phase.message if truth[kind] or kind == "Ready" else ""
        old = before.get(kind, {})
        condition: dict[str, Any] = {
            "type": kind,
            "status": value,
            "reason": reason,
            "message": message,
            # The time the status last flipped; unchanged status keeps the old stamp.
            "lastTransitionTime": old.get("lastTransitionTime", stamp)
            if old.get("status") == value
            else stamp,
        }
        if generation is not None:
            condition["observedGeneration"] = generation
        result.append(condition)
    return result


def status_changed(new: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """True if writing `new` would change anything in `current`."""
    return any(current.get(key) != value for key, value in new.items())
