"""kube.py's resource paths."""

from __future__ import annotations

from asrfleet_operator.kube import Resource


def test_resource_paths() -> None:
    assert Resource("v1", "services").path("ns", "a") == "/api/v1/namespaces/ns/services/a"
    deployments = Resource("apps/v1", "deployments")
    assert deployments.path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
