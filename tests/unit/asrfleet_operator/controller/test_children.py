"""children.py's comparison and error rules (pure parts)."""

from __future__ import annotations

import kopf
from asrfleet_operator.controller.children import (
    ChildError,
    classify,
    controlled_by,
    is_subset,
    same_quantity,
    without,
)
from asrfleet_operator.kube import ApiError
from asrfleet_operator.render import HPA, SERVICE_MONITOR


def test_server_defaults_are_not_drift_but_changed_values_are() -> None:
    desired = {"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "x"}]}}}
    current = {
        "spec": {
            "replicas": 2,
            "paused": False,
            "template": {
                "containers": [{"name": "a", "image": "x", "terminationMessagePath": "/dev/log"}]
            },
        }
    }
    assert is_subset(desired, current)
    assert not is_subset({"spec": {"replicas": 3}}, current)
    assert not is_subset({"spec": {"template": {"containers": []}}}, current)


def test_without_drops_create_only_fields() -> None:
    manifest = {"spec": {"replicas": 3, "x": 1}}
    assert without(manifest, (("spec", "replicas"),)) == {"spec": {"x": 1}}
    assert manifest["spec"]["replicas"] == 3  # untouched


def test_controlled_by_matches_uid() -> None:
    owner = {"kind": "SpeechRecognizer", "metadata": {"name": "a", "uid": "u1"}}
    child = {
        "metadata": {
            "ownerReferences": [
                {"kind": "SpeechRecognizer", "name": "a", "uid": "u1", "controller": True}
            ]
        }
    }
    assert controlled_by(child, owner)
    assert not controlled_by(child, {**owner, "metadata": {"name": "a", "uid": "u2"}})
    assert not controlled_by({"metadata": {}}, owner)


def test_api_errors_are_classified_permanent_or_retried() -> None:
    missing = classify(SERVICE_MONITOR, ApiError(404, "NotFound", "no such resource"))
    assert isinstance(missing, ChildError) and missing.reason == "KindNotInstalled"
    rejected = classify(HPA, ApiError(422, "Invalid", "spec.maxReplicas: bad"))
    assert isinstance(rejected, ChildError) and rejected.reason == "ChildRejected"
    forbidden = classify(HPA, ApiError(403, "Forbidden", "rbac"))
    assert isinstance(forbidden, ChildError) and forbidden.reason == "Forbidden"
    for status in (429, 500, 503):
        assert isinstance(classify(HPA, ApiError(status, "", "")), kopf.TemporaryError)


def test_quantities_the_api_server_normalised_are_not_drift() -> None:
    """The API server stores `1.5Gi` as `1536Mi` and `0.5` CPU as `500m`: the same amounts, so
    re-applying them on every sweep would be a write per SpeechRecognizer for nothing."""
    desired = {
        "resources": {"requests": {"memory": "1.5Gi", "cpu": "0.5"}, "limits": {"memory": "2Gi"}},
        "volumes": [{"name": "models", "emptyDir": {"sizeLimit": "4096Mi"}}],
    }
    normalised = {
        "resources": {"requests": {"memory": "1536Mi", "cpu": "500m"}, "limits": {"memory": "2Gi"}},
        "volumes": [{"name": "models", "emptyDir": {"sizeLimit": "4Gi"}}],
    }
    assert is_subset(desired, normalised)
    more = {**normalised, "resources": {**normalised["resources"], "limits": {"memory": "3Gi"}}}
    assert not is_subset(desired, more)
    assert not is_subset(
        {"env": [{"name": "X", "value": "1.5Gi"}]}, {"env": [{"name": "X", "value": "1536Mi"}]}
    )
    assert same_quantity("1", "1000m") and not same_quantity("1", "1Ki")
    assert not same_quantity("1Gi", "many")
