"""The chart's console (console.enabled): its objects installed by Helm into the emulator,
valid against the Kubernetes schemas, with RBAC of exactly the verbs the console uses."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from asrfleet_operator.console.settings import MIN_TOKEN_CHARS, ConsoleSettings
from asrfleet_operator.settings import env_table
from support.helm_install import NAMESPACE, Installed

from .conftest import Install
from .test_install import assert_valid, container_env

NAME = "fleet-asrfleet-console"
READ = {
    ("asrfleet.io", "speechrecognizers", "get"),
    ("asrfleet.io", "speechrecognizers", "list"),
    ("apps", "deployments", "get"),
    ("autoscaling", "horizontalpodautoscalers", "get"),
    ("autoscaling", "horizontalpodautoscalers", "list"),
    ("", "pods", "list"),
    ("", "events", "list"),
}
PATCH = {("asrfleet.io", "speechrecognizers", "patch")}


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def console_objects(installed: Installed) -> set[tuple[str, str]]:
    return {
        (o["kind"], o["metadata"]["name"])
        for o in installed.objects.values()
        if o["metadata"]["name"].endswith("-console")
    }


async def test_console_is_off_by_default(install: Install) -> None:
    installed = await install()
    assert installed.returncode == 0, installed.stderr
    assert console_objects(installed) == set()


async def test_console_install(install: Install) -> None:
    installed = await install("--set", "console.enabled=true")
    assert installed.returncode == 0, installed.stderr
    assert console_objects(installed) == {
        ("ServiceAccount", NAME), ("Secret", NAME), ("Deployment", NAME), ("Service", NAME),
        ("ClusterRole", NAME), ("ClusterRoleBinding", NAME),
    }  # fmt: skip
    deployment = installed.one("Deployment", NAME, NAMESPACE)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["serviceAccountName"] == NAME
    assert container["image"] == "ghcr.io/asrfleet/operator:0.1.0"
    assert container["command"] == ["python3", "-m", "asrfleet_operator.console"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Every variable the chart sets is one the console reads.
    known = {var for var, _, _ in env_table(ConsoleSettings)}
    assert set(container_env(deployment)) <= known
    token_ref = next(e for e in container["env"] if e["name"] == "ASRFLEET_CONSOLE_TOKEN")
    assert token_ref["valueFrom"]["secretKeyRef"] == {"name": NAME, "key": "token"}
    token = base64.b64decode(installed.one("Secret", NAME, NAMESPACE)["data"]["token"]).decode()
    assert len(token) >= MIN_TOKEN_CHARS and token.isalnum()
    service = installed.one("Service", NAME, NAMESPACE)
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert granted(installed.one("ClusterRole", NAME)["rules"]) == READ | PATCH
    assert not [
        r for r in installed.of_kind("ClusterRole") if r["metadata"]["name"].endswith("-reviews")
    ]  # token auth: no TokenReviews or SubjectAccessReviews
    binding = installed.one("ClusterRoleBinding", NAME)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    assert "get secret fleet-asrfleet-console -o jsonpath='{.data.token}'" in installed.stdout
    assert_valid(installed)


async def test_read_only_console_may_not_patch(install: Install) -> None:
    installed = await install("--set", "console.enabled=true", "--set", "console.readOnly=true")
    assert installed.returncode == 0, installed.stderr
    assert granted(installed.one("ClusterRole", NAME)["rules"]) == READ
    env = container_env(installed.one("Deployment", NAME, NAMESPACE))
    assert env["ASRFLEET_CONSOLE_READ_ONLY"] == "true"


async def test_namespaced_console_with_an_existing_secret(install: Install, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "console: {enabled: true, namespaces: [speech, lab],"
        " token: {existingSecret: my-console-token}}\n"
    )
    installed = await install("-f", str(values))
    assert installed.returncode == 0, installed.stderr
    assert not [o for o in installed.of_kind("ClusterRole") if o["metadata"]["name"] == NAME]
    for namespace in ("speech", "lab"):
        assert granted(installed.one("Role", NAME, namespace)["rules"]) == READ | PATCH
        installed.one("RoleBinding", NAME, namespace)
    assert ("Secret", NAME) not in console_objects(installed)
    deployment = installed.one("Deployment", NAME, NAMESPACE)
    env = container_env(deployment)
    assert env["ASRFLEET_CONSOLE_NAMESPACES"] == "speech,lab"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    token_ref = next(e for e in container["env"] if e["name"] == "ASRFLEET_CONSOLE_TOKEN")
    assert token_ref["valueFrom"]["secretKeyRef"]["name"] == "my-console-token"
    assert_valid(installed)


async def test_kubernetes_auth_may_create_the_reviews_cluster_wide(
    install: Install, tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("console: {enabled: true, auth: kubernetes, namespaces: [speech]}\n")
    installed = await install("-f", str(values))
    assert installed.returncode == 0, installed.stderr
    reviews = f"{NAME}-reviews"
    assert granted(installed.one("ClusterRole", reviews)["rules"]) == {
        ("authentication.k8s.io", "tokenreviews", "create"),
        ("authorization.k8s.io", "subjectaccessreviews", "create"),
    }
    binding = installed.one("ClusterRoleBinding", reviews)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    assert granted(installed.one("Role", NAME, "speech")["rules"]) == READ | PATCH  # unchanged
    env = container_env(installed.one("Deployment", NAME, NAMESPACE))
    assert env["ASRFLEET_CONSOLE_AUTH"] == "kubernetes"
    assert "your own Kubernetes token" in installed.stdout and "get secret" not in installed.stdout
    assert_valid(installed)
