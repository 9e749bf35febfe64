"""status.py's phase and condition rules."""

from __future__ import annotations

import datetime
from typing import Any

from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import parse_spec
from asrfleet_operator.status import Problem, compute_status, rollout_phase, status_changed

SPEC = parse_spec({"model": {"name": "whisper-base"}}, name="fleet")


def deployment(**status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status}


def test_phases_from_the_deployment_status() -> None:
    assert rollout_phase(None, SPEC).phase == "Pending"
    assert rollout_phase(deployment(), SPEC).phase == "Pending"
    assert (
        rollout_phase(
            deployment(observedGeneration=2, replicas=2, readyReplicas=1, updatedReplicas=2), SPEC
        ).phase
        == "Progressing"
    )
    ready = deployment(observedGeneration=2, replicas=2, readyReplicas=2, updatedReplicas=2)
    assert rollout_phase(ready, SPEC).phase == "Ready"
    stale = deployment(observedGeneration=1, replicas=2, readyReplicas=2, updatedReplicas=2)
    assert rollout_phase(stale, SPEC).phase == "Progressing"
    stuck = deployment(
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "m",
            }
        ]
    )
    assert rollout_phase(stuck, SPEC).reason == "ProgressDeadlineExceeded"
    suspended = parse_spec({"model": {"name": "whisper-base"}, "suspend": True}, name="fleet")
    assert rollout_phase(ready, suspended).phase == "Suspended"


def test_status_fields_conditions_and_stable_transition_times() -> None:
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    ready = deployment(observedGeneration=2, replicas=2, readyReplicas=2, updatedReplicas=2)
    kwargs: dict[str, Any] = {
        "name": "fleet",
        "namespace": "speech",
        "generation": 4,
        "spec": SPEC,
        "deployment": ready,
        "settings": Settings(),
    }
    first = compute_status(problem=None, previous={}, now=t0, **kwargs)
    assert first["phase"] == "Ready" and first["readyText"] == "2/2"
    assert first["observedGeneration"] == 4
    assert first["url"] == "http://fleet.speech.svc.cluster.local"
    assert first["selector"] == "app.kubernetes.io/instance=fleet,app.kubernetes.io/name=asr-server"
    conds = {c["type"]: c for c in first["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Degraded"]["status"] == "False"
    assert conds["Progressing"]["reason"] == "RolloutComplete"
    later = t0 + datetime.timedelta(hours=1)
    again = compute_status(problem=None, previous=first, now=later, **kwargs)
    assert not status_changed(again, first)  # nothing changed: nothing to write
    broken = compute_status(
        problem=Problem("InvalidSpec", "spec.x: bad"), previous=first, now=later, **kwargs
    )
    conds = {c["type"]: c for c in broken["conditions"]}
    assert broken["phase"] == "Degraded" and conds["Degraded"]["reason"] == "InvalidSpec"
    assert conds["Degraded"]["lastTransitionTime"] == "2026-01-01T01:00:00Z"
    assert conds["Degraded"]["observedGeneration"] == 4


def _status_of(spec: dict[str, Any], waiting: Problem | None = None) -> dict[str, Any]:
    return compute_status(
        name="fleet",
        namespace="speech",
        generation=1,
        spec=parse_spec(spec, name="fleet"),
        deployment=None,
        problem=None,
        previous={},
        settings=Settings(),
        waiting=waiting,
    )


def test_a_uri_is_reported_without_its_password() -> None:
    found = _status_of({"model": {"uri": "https://user:pw@models.example/w.tgz"}})
    assert found["model"]["uri"] == "https://***@models.example/w.tgz"


def test_a_held_deployment_is_pending_with_what_it_waits_for() -> None:
    waiting = Problem("WaitingForModel", "SpeechModel w is Downloading: ...")
    found = _status_of({"model": {"speechModelRef": {"name": "w"}}}, waiting)
    ready = next(c for c in found["conditions"] if c["type"] == "Ready")
    assert found["phase"] == "Pending" and ready["reason"] == "WaitingForModel"
    assert found["model"] == {"name": "w", "engine": "faster-whisper"}
