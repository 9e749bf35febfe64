"""What the pages show, from the API's plain JSON objects (pure: dicts in, dataclasses out).

SpeechRecognizers are read as the API returns them (no operator spec model): the console only
displays what the operator and Kubernetes wrote, so a field it does not know is simply not
shown, and a recognizer the operator rejected still appears, with the operator's reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

URL_ANNOTATION = "console.asrfleet.io/url"
"""Overrides a recognizer's target (pods and Service) with one URL when the console allows it."""
DESCRIPTION_ANNOTATION = "console.asrfleet.io/description"
"""Free text shown under the recognizer's name."""
HIDDEN_ANNOTATION_PREFIXES = ("kopf.zalando.org/", "kubectl.kubernetes.io/last-applied")
"""Bookkeeping annotations the recognizer page leaves out."""
DEGRADED = "Degraded"


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class Summary:
    """One fleet row."""

    namespace: str
    name: str
    model: str
    engine: str
    phase: str
    reason: str
    message: str
    ready_replicas: int
    desired_replicas: int
    replicas: int | None
    """spec.replicas as declared (None: the default)."""
    autoscaling: Autoscaling | None
    suspended: bool
    url: str
    description: str


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str


@dataclass(frozen=True)
class EventView:
    type: str
    reason: str
    message: str
    object: str
    count: int
    last_seen: str


@dataclass(frozen=True)
class PodView:
    name: str
    phase: str
    ready: bool
    restarts: int
    node: str
    ip: str
    started: str


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def summarize(recognizer: Mapping[str, Any], hpa: Mapping[str, Any] | None = None) -> Summary:
    meta = _meta(recognizer)
    spec = recognizer.get("spec") or {}
    status = recognizer.get("status") or {}
    model_spec = spec.get("model") or {}
    status_model = status.get("model") or {}
    annotations = meta.get("annotations") or {}
    suspended = bool(spec.get("suspend"))
    scaling = spec.get("autoscaling")
    autoscaling = None
    if isinstance(scaling, Mapping) and "maxReplicas" in scaling:
        autoscaling = Autoscaling(
            _int(scaling.get("minReplicas"), 1), _int(scaling.get("maxReplicas"), 1)
        )
    replicas = spec.get("replicas")
    if suspended:
        desired = 0
    elif autoscaling is not None and hpa is not None:
        desired = _int((hpa.get("status") or {}).get("desiredReplicas"), _int(replicas, 1))
    else:
        desired = _int(replicas, 1)
    phase = str(status.get("phase") or "Unknown")
    reason, message = _phase_reason(phase, status.get("conditions") or [])
    return Summary(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        model=str(
            status_model.get("name") or model_spec.get("name") or model_spec.get("uri") or ""
        ),
        engine=str(status_model.get("engine") or model_spec.get("engine") or "faster-whisper"),
        phase=phase,
        reason=reason,
        message=message,
        ready_replicas=_int(status.get("readyReplicas")),
        desired_replicas=desired,
        replicas=None if replicas is None else _int(replicas, 1),
        autoscaling=autoscaling,
        suspended=suspended,
        url=str(status.get("url") or ""),
        description=str(annotations.get(DESCRIPTION_ANNOTATION, "")),
    )


def _phase_reason(phase: str, conditions: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The reason to show beside the phase: the Degraded condition's when it holds, else the
    Ready condition's."""
    by_type = {str(c.get("type")): c for c in conditions if isinstance(c, Mapping)}
    degraded = by_type.get(DEGRADED)
    if degraded is not None and degraded.get("status") == "True":
        return str(degraded.get("reason", "")), str(degraded.get("message", ""))
    ready = by_type.get("Ready")
    if ready is not None:
        return str(ready.get("reason", "")), str(ready.get("message", ""))
    return ("", "") if phase != "Unknown" else ("NoStatus", "the operator has not reported yet")


def conditions(recognizer: Mapping[str, Any]) -> list[Condition]:
    found = (recognizer.get("status") or {}).get("conditions") or []
    return [
        Condition(
            type=str(c.get("type", "")),
            status=str(c.get("status", "")),
            reason=str(c.get("reason", "")),
            message=str(c.get("message", "")),
            last_transition_time=str(c.get("lastTransitionTime", "")),
        )
        for c in found
        if isinstance(c, Mapping)
    ]


def events_about(
    events: Iterable[Mapping[str, Any]], names: set[tuple[str, str]]
) -> list[EventView]:
    """Events whose involved object is one of `names` ((kind, name) pairs), newest first."""
    chosen = []
    for event in events:
        involved = event.get("involvedObject") or {}
        key = (str(involved.get("kind", "")), str(involved.get("name", "")))
        if key not in names:
            continue
        last = (
            event.get("lastTimestamp")
            or event.get("eventTime")
            or event.get("firstTimestamp")
            or _meta(event).get("creationTimestamp")
            or ""
        )
        chosen.append(
            EventView(
                type=str(event.get("type", "")),
                reason=str(event.get("reason", "")),
                message=str(event.get("message", "")),
                object=f"{key[0]}/{key[1]}",
                count=_int(event.get("count"), 1),
                last_seen=str(last),
            )
        )
    chosen.sort(key=lambda e: e.last_seen, reverse=True)
    return chosen


def matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pods_of(pods: Iterable[Mapping[str, Any]], selector: Mapping[str, str]) -> list[PodView]:
    """The pods `selector` (a Deployment's matchLabels) picks, by name."""
    chosen = []
    for pod in pods:
        meta = _meta(pod)
        if not matches(meta.get("labels") or {}, selector):
            continue
        status = pod.get("status") or {}
        containers = status.get("containerStatuses") or []
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        chosen.append(
            PodView(
                name=str(meta.get("name", "")),
                phase=str(status.get("phase", "Unknown")),
                ready=ready,
                restarts=sum(_int(c.get("restartCount")) for c in containers),
                node=str((pod.get("spec") or {}).get("nodeName", "")),
                ip=str(status.get("podIP", "")),
                started=str(status.get("startTime", "")),
            )
        )
    return sorted(chosen, key=lambda p: p.name)


def shown_annotations(recognizer: Mapping[str, Any]) -> dict[str, str]:
    found = _meta(recognizer).get("annotations") or {}
    return {
        str(k): str(v)
        for k, v in sorted(found.items())
        if not str(k).startswith(HIDDEN_ANNOTATION_PREFIXES)
    }


def spec_yaml(recognizer: Mapping[str, Any]) -> str:
    """The object as a person would write it: apiVersion, kind, name, labels, spec."""
    meta = _meta(recognizer)
    shown: dict[str, Any] = {
        "apiVersion": recognizer.get("apiVersion", ""),
        "kind": recognizer.get("kind", "SpeechRecognizer"),
        "metadata": {k: meta[k] for k in ("name", "namespace", "labels") if meta.get(k)},
        "spec": recognizer.get("spec") or {},
    }
    notes = shown_annotations(recognizer)
    if notes:
        shown["metadata"]["annotations"] = notes
    return yaml.safe_dump(shown, sort_keys=False, allow_unicode=True)
