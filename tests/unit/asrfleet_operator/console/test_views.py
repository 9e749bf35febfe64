"""What the pages show, from SpeechRecognizers as the API returns them."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.console import views
from support.console_stack import recognizer


def test_degraded_recognizer_shows_the_degraded_conditions_reason() -> None:
    body = recognizer("broken", phase="Degraded", reason="InvalidSpec", message="bad model")
    summary = views.summarize(body)
    assert (summary.phase, summary.reason, summary.message) == (
        "Degraded",
        "InvalidSpec",
        "bad model",
    )


def test_desired_replicas_follow_suspend_and_the_hpa() -> None:
    plain = recognizer("a", spec={"replicas": 3})
    assert views.summarize(plain).desired_replicas == 3
    suspended = recognizer("a", spec={"replicas": 3, "suspend": True})
    assert views.summarize(suspended).desired_replicas == 0
    scaled = recognizer("a", spec={"autoscaling": {"minReplicas": 2, "maxReplicas": 6}})
    hpa = {"status": {"desiredReplicas": 5}}
    summary = views.summarize(scaled, hpa)
    assert summary.desired_replicas == 5
    assert summary.autoscaling == views.Autoscaling(2, 6)


def test_a_recognizer_without_status_is_unknown_with_a_reason() -> None:
    body: dict[str, Any] = {"metadata": {"name": "new", "namespace": "ns"}, "spec": {}}
    summary = views.summarize(body)
    assert (summary.phase, summary.reason) == ("Unknown", "NoStatus")


def test_events_about_the_recognizer_and_its_children_newest_first() -> None:
    events = [
        {"involvedObject": {"kind": "SpeechRecognizer", "name": "a"}, "reason": "Old",
         "lastTimestamp": "2026-01-01T00:00:00Z"},
        {"involvedObject": {"kind": "Pod", "name": "a-1"}, "reason": "New",
         "lastTimestamp": "2026-01-02T00:00:00Z"},
        {"involvedObject": {"kind": "SpeechRecognizer", "name": "b"}, "reason": "Other"},
    ]  # fmt: skip
    chosen = views.events_about(events, {("SpeechRecognizer", "a"), ("Pod", "a-1")})
    assert [e.reason for e in chosen] == ["New", "Old"]


def test_pods_with_readiness_and_restarts() -> None:
    pod = {
        "metadata": {"name": "a-1", "labels": {"app": "x", "other": "y"}},
        "spec": {"nodeName": "node-1"},
        "status": {"phase": "Running", "podIP": "10.0.0.5",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"restartCount": 2}, {"restartCount": 1}]},
    }  # fmt: skip
    stranger = {"metadata": {"name": "z", "labels": {"app": "other"}}}
    [view] = views.pods_of([pod, stranger], {"app": "x"})
    assert (view.ready, view.restarts, view.ip, view.node) == (True, 3, "10.0.0.5", "node-1")
    assert views.pods_of([pod], {}) == []  # an empty selector picks nothing, not everything


def test_spec_yaml_leaves_out_bookkeeping_annotations() -> None:
    body = recognizer("a", annotations={"kopf.zalando.org/last-handled-configuration": "{}",
                                        "team": "speech"})  # fmt: skip
    text = views.spec_yaml(body)
    assert "team: speech" in text and "kopf.zalando.org" not in text
    assert "status" not in text
