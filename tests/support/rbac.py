"""The RBAC verbs of the model cache: what the chart grants for it (tests/integration/charts)
and what the operator really requests against the emulator (the SpeechModel tests) must both
be exactly this table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CACHE_VERBS: dict[tuple[str, str], set[str]] = {
    ("asrfleet.io", "speechmodels"): {"get", "list", "watch"},
    ("asrfleet.io", "speechmodels/status"): {"patch"},
    ("", "persistentvolumeclaims"): {"get", "create", "patch", "delete"},
    ("batch", "jobs"): {"list", "watch", "create", "delete"},
    ("", "pods"): {"list"},
}
"""(API group, resource) -> verbs, for the resources only the model cache uses."""
_VERBS = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
OPERATOR_AGENTS = ("asrfleet-operator", "kopf/")
"""User-Agent prefixes of the operator's requests: its own client's and kopf's (not kubectl's,
nor a test's own)."""


def verb_of(request: Any) -> str:
    """The RBAC verb of a request the emulator recorded (kmock's Request)."""
    method = request.method.value
    if method == "GET":
        if request.params.get("watch") == "true":
            return "watch"
        return "get" if request.name else "list"
    return _VERBS[method]


def verbs_used(requests: Iterable[Any]) -> dict[tuple[str, str], set[str]]:
    """(API group, resource[/subresource]) -> the verbs of the operator's recorded requests."""
    used: dict[tuple[str, str], set[str]] = {}
    for request in requests:
        agent = request.headers.get("User-Agent", "")
        if request.resource is None or not agent.startswith(OPERATOR_AGENTS):
            continue
        resource = request.resource.plural
        if request.subresource:
            resource = f"{resource}/{request.subresource}"
        used.setdefault((request.resource.group or "", resource), set()).add(verb_of(request))
    return used


def granted(rules: Iterable[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """The same table from a (Cluster)Role's rules."""
    result: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                result.setdefault((group, resource), set()).update(rule["verbs"])
    return result
