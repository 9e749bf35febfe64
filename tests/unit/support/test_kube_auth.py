"""The emulator's RBAC authorizer decides as kube-apiserver's would on the rules it knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.kube_auth import access_review, read_token_file, token_review

READ_SRS = {"apiGroups": ["asrfleet.io"], "resources": ["speechrecognizers"], "verbs": ["get"]}


def role(
    kind: str, name: str, rules: list[dict[str, Any]], ns: str = ""
) -> tuple[str, str, dict[str, Any]]:
    return (f"{kind.lower()}s", ns, {"metadata": {"name": name}, "rules": rules})


def binding(
    kind: str, name: str, subject: dict[str, str], ns: str = ""
) -> tuple[str, str, dict[str, Any]]:
    body = {"metadata": {"name": name}, "subjects": [subject],
            "roleRef": {"kind": kind.removesuffix("Binding"), "name": name}}  # fmt: skip
    return (f"{kind.lower()}s", ns, body)


def allowed(objects: list[tuple[str, str, dict[str, Any]]], user: str, groups: list[str],
            **attributes: str) -> bool:  # fmt: skip
    spec = {"user": user, "groups": groups,
            "resourceAttributes": {"group": "asrfleet.io", **attributes}}  # fmt: skip
    return bool(access_review(objects, {"spec": spec})["status"]["allowed"])


def test_a_rolebinding_grants_in_its_namespace_only() -> None:
    objects = [
        role("Role", "r", [READ_SRS], "a"),
        binding("RoleBinding", "r", {"kind": "User", "name": "ann"}, "a"),
    ]
    assert allowed(objects, "ann", [], verb="get", resource="speechrecognizers", namespace="a")
    assert not allowed(objects, "ann", [], verb="get", resource="speechrecognizers", namespace="b")
    assert not allowed(objects, "bob", [], verb="get", resource="speechrecognizers", namespace="a")
    assert not allowed(
        objects, "ann", [], verb="patch", resource="speechrecognizers", namespace="a"
    )


@pytest.mark.parametrize(
    ("rule", "attributes", "expected"),
    [
        ({**READ_SRS, "resourceNames": ["x"]}, {"name": "x"}, True),
        ({**READ_SRS, "resourceNames": ["x"]}, {"name": "y"}, False),
        ({**READ_SRS, "verbs": ["*"]}, {}, True),
        ({**READ_SRS, "resources": ["speechrecognizers/status"]}, {}, False),
        ({"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"]},
         {"group": "", "resource": "services", "subresource": "proxy"}, True),
        ({"apiGroups": [""], "resources": ["services"], "verbs": ["get"]},
         {"group": "", "resource": "services", "subresource": "proxy"}, False),
    ],
)  # fmt: skip
def test_a_clusterrole_rule_matches_verbs_resources_and_names(
    rule: dict[str, Any], attributes: dict[str, str], expected: bool
) -> None:
    subject = {"kind": "Group", "name": "people"}
    objects = [role("ClusterRole", "c", [rule]), binding("ClusterRoleBinding", "c", subject)]
    wanted = {"verb": "get", "resource": "speechrecognizers", "namespace": "any", **attributes}
    assert allowed(objects, "ann", ["people"], **wanted) is expected


def test_service_accounts_and_tokens(tmp_path: Path) -> None:
    subject = {"kind": "ServiceAccount", "name": "console", "namespace": "sys"}
    objects = [role("ClusterRole", "c", [READ_SRS]), binding("ClusterRoleBinding", "c", subject)]
    assert allowed(objects, "system:serviceaccount:sys:console", [], verb="get",
                   resource="speechrecognizers")  # fmt: skip
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('t1,ann,u1,"people,ops"\nt2,bob,u2\n')
    users = read_token_file(tokens)
    ann = token_review(users, {"spec": {"token": "t1"}})["status"]
    assert ann["authenticated"] and ann["user"]["groups"] == [
        "people",
        "ops",
        "system:authenticated",
    ]
    assert token_review(users, {"spec": {"token": "nope"}})["status"]["authenticated"] is False
