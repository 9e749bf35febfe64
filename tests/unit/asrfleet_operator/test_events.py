"""The Kubernetes Events the operator posts (events.py)."""

from __future__ import annotations

import datetime

from asrfleet_operator.events import event_manifest


def test_event_manifest_names_the_speech_recognizer() -> None:
    owner = {"metadata": {"name": "en", "namespace": "speech", "uid": "u1"}}
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    event = event_manifest(owner, "Warning", "InvalidSpec", "x" * 5000, now)
    assert event["involvedObject"] == {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "name": "en",
        "namespace": "speech",
        "uid": "u1",
    }
    assert event["metadata"] == {"generateName": "en.", "namespace": "speech"}
    assert (event["type"], event["reason"], len(event["message"])) == (
        "Warning",
        "InvalidSpec",
        1000,
    )
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-02T03:04:05Z"
