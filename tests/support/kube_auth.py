"""The API server's authentication and authorization, for the emulator: TokenReview against a
static token file (kube-apiserver's `--token-auth-file` format) and SubjectAccessReview by
RBAC, evaluated over the Roles, ClusterRoles and their bindings stored in the emulator as
kube-apiserver's RBAC authorizer evaluates them (verbs, API groups, resources with their
subresource, resource names, `*`; RoleBindings in their namespace, ClusterRoleBindings
everywhere; User, Group and ServiceAccount subjects).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

Objects = Iterable[tuple[str, str, dict[str, Any]]]
"""(plural, namespace, object) of the stored RBAC objects."""


def read_token_file(path: Path) -> dict[str, dict[str, Any]]:
    """`token,user,uid[,"group1,group2"]` per line -> token -> TokenReview `status.user`."""
    users: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row or row[0].startswith("#"):
                continue
            token, name, uid, *rest = row
            groups = [g for g in (rest[0].split(",") if rest else []) if g]
            users[token] = {"username": name, "uid": uid,
                            "groups": [*groups, "system:authenticated"]}  # fmt: skip
    return users


def token_review(users: Mapping[str, dict[str, Any]], body: Mapping[str, Any]) -> dict[str, Any]:
    token = str((body.get("spec") or {}).get("token") or "")
    user = users.get(token)
    status: dict[str, Any] = {"authenticated": user is not None}
    if user is not None:
        status["user"] = user
    else:
        status["error"] = "invalid bearer token"
    return {**body, "status": status}


def access_review(objects: Objects, body: Mapping[str, Any]) -> dict[str, Any]:
    spec = body.get("spec") or {}
    attributes = spec.get("resourceAttributes") or {}
    allowed, reason = _allowed(list(objects), spec, attributes)
    return {**body, "status": {"allowed": allowed, "reason": reason}}


def _allowed(
    objects: list[tuple[str, str, dict[str, Any]]],
    spec: Mapping[str, Any],
    attributes: Mapping[str, Any],
) -> tuple[bool, str]:
    roles = {(plural, ns, o["metadata"]["name"]): o for plural, ns, o in objects
             if plural in ("roles", "clusterroles")}  # fmt: skip
    namespace = str(attributes.get("namespace") or "")
    for plural, binding_ns, binding in objects:
        if plural not in ("rolebindings", "clusterrolebindings"):
            continue
        if plural == "rolebindings" and binding_ns != namespace:
            continue  # a RoleBinding grants in its own namespace only
        if not any(_is(subject, spec, binding_ns) for subject in binding.get("subjects") or ()):
            continue
        ref = binding.get("roleRef") or {}
        key = (
            ("roles", binding_ns, ref.get("name"))
            if ref.get("kind") == "Role"
            else ("clusterroles", "", ref.get("name"))
        )
        role = roles.get(key)
        if role and any(_grants(rule, attributes) for rule in role.get("rules") or ()):
            return True, f"allowed by {plural[:-1]} {binding['metadata']['name']}"
    return False, "no RBAC rule allows it"


def _is(subject: Mapping[str, Any], spec: Mapping[str, Any], binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == spec.get("user")
    if kind == "Group":
        return name in (spec.get("groups") or ())
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_ns
        return spec.get("user") == f"system:serviceaccount:{namespace}:{name}"
    return False


def _grants(rule: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    resource = str(attributes.get("resource") or "")
    if attributes.get("subresource"):
        resource += f"/{attributes['subresource']}"
    names = rule.get("resourceNames") or ()
    return (
        _matches(rule.get("verbs"), attributes.get("verb"))
        and _matches(rule.get("apiGroups"), attributes.get("group") or "")
        and _matches(rule.get("resources"), resource)
        and (not names or attributes.get("name") in names)
    )


def _matches(allowed: Any, value: Any) -> bool:
    return bool(allowed) and ("*" in allowed or value in allowed)
