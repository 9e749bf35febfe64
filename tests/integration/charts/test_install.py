"""The chart rendered and installed by Helm's own engine into the Kubernetes emulator: the
objects created for the default values and with every option on, validated against the
Kubernetes schemas; a wrong value refused by values.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.helm_install import CHART, NAMESPACE, Installed
from support.rbac import CACHE_VERBS, granted

from .conftest import HERE, Install

# Validated against the Kubernetes schemas; the rest are custom resources.
CUSTOM_KINDS = {"ServiceMonitor"}
OPERATOR_ENV = {
    "ASRFLEET_INFERENCE_IMAGE", "ASRFLEET_TORCH_INFERENCE_IMAGE", "ASRFLEET_IMAGE_PULL_POLICY",
    "ASRFLEET_NAMESPACES", "ASRFLEET_RESYNC_SECONDS", "ASRFLEET_LEASE_NAME",
    "ASRFLEET_LEASE_NAMESPACE", "ASRFLEET_LEASE_SECONDS", "ASRFLEET_LEASE_RETRY_SECONDS",
    "ASRFLEET_HEALTH_PORT", "ASRFLEET_LOG_FORMAT",
    "ASRFLEET_DEFAULT_CPU_REQUEST", "ASRFLEET_DEFAULT_MEMORY_REQUEST",
    "ASRFLEET_MODEL_CACHE_SIZE", "ASRFLEET_CLUSTER_DOMAIN",
}  # fmt: skip


def supported_versions() -> list[str]:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    return str(chart["annotations"]["asrfleet.io/tested-kubernetes-versions"]).split()


def kinds(installed: Installed) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in installed.objects.values()}


def container_env(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def assert_valid(installed: Installed) -> None:
    for obj in installed.objects.values():
        if obj["kind"] in CUSTOM_KINDS:
            continue
        for version in supported_versions():
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{obj['kind']} {obj['metadata']['name']} on {version}: {exc}")


async def test_default_install(install: Install) -> None:
    installed = await install()
    assert installed.returncode == 0, installed.stderr
    assert kinds(installed) == {
        ("CustomResourceDefinition", "speechrecognizers.asrfleet.io"),
        ("CustomResourceDefinition", "speechmodels.asrfleet.io"),
        ("ServiceAccount", "fleet-asrfleet"),
        ("ClusterRole", "fleet-asrfleet"),
        ("ClusterRoleBinding", "fleet-asrfleet"),
        ("Role", "fleet-asrfleet-leader-election"),
        ("RoleBinding", "fleet-asrfleet-leader-election"),
        ("Deployment", "fleet-asrfleet"),
    }
    deployment = installed.one("Deployment", "fleet-asrfleet", NAMESPACE)
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert spec["replicas"] == 1
    # A new replica waits as a standby until the old one released the Lease.
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert container["image"] == "ghcr.io/asrfleet/operator:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["serviceAccountName"] == "fleet-asrfleet"
    env = container_env(deployment)
    assert set(env) == OPERATOR_ENV
    assert env["ASRFLEET_INFERENCE_IMAGE"] == "ghcr.io/asrfleet/asr-server:0.1.0"
    assert env["ASRFLEET_TORCH_INFERENCE_IMAGE"] == "ghcr.io/asrfleet/asr-server:0.1.0-torch"
    assert env["ASRFLEET_NAMESPACES"] == "" and env["ASRFLEET_LEASE_NAME"] == "fleet-asrfleet"
    lease_namespace = next(e for e in container["env"] if e["name"] == "ASRFLEET_LEASE_NAMESPACE")
    assert lease_namespace["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert "Next, declare a speech recognizer" in installed.stdout  # NOTES.txt
    assert_valid(installed)


async def test_default_rbac_is_least_privilege(install: Install) -> None:
    installed = await install()
    assert installed.returncode == 0, installed.stderr
    rules = installed.one("ClusterRole", "fleet-asrfleet")["rules"]
    granted = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert ("asrfleet.io", "speechrecognizers/status", "patch") in granted
    assert ("apps", "deployments", "create") in granted
    assert ("autoscaling", "horizontalpodautoscalers", "delete") in granted
    assert ("", "events", "create") in granted
    assert ("apiextensions.k8s.io", "customresourcedefinitions", "watch") in granted
    assert not any("*" in item for item in granted), "no wildcards"
    assert not {r for _, r, _ in granted} & {"nodes", "configmaps"}
    assert {v for _, r, v in granted if r == "pods"} == {"list"}, "a download Job's failed pods"
    assert {v for _, r, v in granted if r == "secrets"} == {"get"}, "reads the API-key Secret"
    assert not any(verb == "update" for _, _, verb in granted), "the operator only patches"
    assert ("", "services", "list") not in granted, "children are read by name"
    assert not any(g == "coordination.k8s.io" for g, _, _ in granted), "leases: one Role"
    binding = installed.one("ClusterRoleBinding", "fleet-asrfleet")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "fleet-asrfleet", "namespace": NAMESPACE}
    ]
    lease_rules = installed.one("Role", "fleet-asrfleet-leader-election", NAMESPACE)["rules"]
    assert lease_rules == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["fleet-asrfleet"],
            "verbs": ["get", "patch"],
        },
    ]


@pytest.mark.parametrize("scope", ["cluster", "namespaced"])
async def test_the_model_cache_is_granted_exactly_the_verbs_it_uses(
    install: Install, scope: str
) -> None:
    """The operator's requests for the model cache are the same table (test_speech_models.py)."""
    if scope == "cluster":
        installed = await install()
        role = installed.one("ClusterRole", "fleet-asrfleet")
    else:
        installed = await install("-f", str(HERE / "all-options.yaml"))
        role = installed.one("Role", "asrfleet", "speech")
    assert installed.returncode == 0, installed.stderr
    rules = granted(role["rules"])
    assert {key: rules.get(key) for key in CACHE_VERBS} == CACHE_VERBS


async def test_install_with_every_option(install: Install) -> None:
    installed = await install("-f", str(HERE / "all-options.yaml"))
    assert installed.returncode == 0, installed.stderr
    watched = ["speech", "speech-staging"]

    assert not installed.of_kind("ClusterRole") and not installed.of_kind("ClusterRoleBinding")
    for namespace in watched:
        role = installed.one("Role", "asrfleet", namespace)
        assert not any("leases" in r["resources"] for r in role["rules"])
        binding = installed.one("RoleBinding", "asrfleet", namespace)
        assert binding["subjects"][0]["name"] == "asrfleet-operator"
    lease_role = installed.one("Role", "asrfleet-leader-election", NAMESPACE)
    assert lease_role["rules"][1]["resourceNames"] == ["speech-ha"]

    deployment = installed.one("Deployment", "asrfleet", NAMESPACE)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert container["image"] == "registry.example.com/asrfleet/operator:9.9.9"
    assert container["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "podAntiAffinity" in pod["affinity"]
    assert deployment["spec"]["template"]["metadata"]["labels"]["team"] == "speech"
    env = container_env(deployment)
    assert env["ASRFLEET_NAMESPACES"] == "speech,speech-staging"
    assert env["ASRFLEET_LEASE_NAME"] == "speech-ha"
    assert (env["ASRFLEET_LEASE_SECONDS"], env["ASRFLEET_LEASE_RETRY_SECONDS"]) == ("20", "3")
    assert env["ASRFLEET_HEALTH_PORT"] == "9091"
    assert env["ASRFLEET_INFERENCE_IMAGE"] == "registry.example.com/asrfleet/asr-server:9.9.9"
    assert env["ASRFLEET_TORCH_INFERENCE_IMAGE"] == "registry.example.com/asrfleet/asr-server:t1"
    assert env["ASRFLEET_DEFAULT_MEMORY_REQUEST"] == "3Gi"
    assert env["HTTPS_PROXY"] == "http://proxy.example.com:3128"

    account = installed.one("ServiceAccount", "asrfleet-operator", NAMESPACE)
    assert account["metadata"]["annotations"]["iam.example.com/role"] == "asr"

    service = installed.one("Service", "asrfleet-metrics", NAMESPACE)
    assert service["spec"]["ports"][0]["targetPort"] == "health"
    monitor = installed.one("ServiceMonitor", "asrfleet", NAMESPACE)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["interval"] == "15s"

    dashboard = installed.one("ConfigMap", "asrfleet-dashboard", NAMESPACE)
    panels = json.loads(dashboard["data"]["asrfleet-inference.json"])["panels"]
    queries = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in ("asr_requests_total", "asr_request_duration_seconds_bucket",
                   "asr_realtime_factor_bucket", "asr_queue_depth", "asr_inflight_requests",
                   "kube_deployment_status_replicas"):  # fmt: skip
        assert metric in queries

    console = installed.one("Deployment", "asrfleet-console", NAMESPACE)
    assert console["spec"]["replicas"] == 2
    console_env = container_env(console)
    assert console_env["ASRFLEET_CONSOLE_READ_ONLY"] == "true"
    assert console_env["ASRFLEET_CONSOLE_NAMESPACES"] == "speech,speech-staging"
    assert console_env["ASRFLEET_CONSOLE_SCRAPE_TIMEOUT_SECONDS"] == "3"
    assert (
        console_env["ASRFLEET_CONSOLE_PROMETHEUS_URL"]
        == "http://prometheus-operated.monitoring:9090"
    )
    assert installed.one("Service", "asrfleet-console", NAMESPACE)["spec"]["type"] == "NodePort"
    for namespace in watched:  # the console's read-only Role in each namespace the operator has
        rules = installed.one("Role", "asrfleet-console", namespace)["rules"]
        assert not any("patch" in rule["verbs"] for rule in rules)

    adapter = installed.one("ConfigMap", "asrfleet-adapter-rules", NAMESPACE)
    rule = yaml.safe_load(adapter["data"]["rules.yaml"])["rules"][0]
    assert rule["name"]["as"] == "asr_inflight_requests"
    assert "[2m]" in rule["metricsQuery"]
    assert_valid(installed)


async def test_two_replicas_need_leader_election(install: Install) -> None:
    installed = await install("--set", "replicaCount=2")
    assert installed.returncode == 0, installed.stderr
    deployment = installed.one("Deployment", "fleet-asrfleet", NAMESPACE)
    assert container_env(deployment)["ASRFLEET_LEASE_NAME"] == "fleet-asrfleet"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert_valid(installed)


async def test_two_replicas_without_leader_election_are_refused(install: Install) -> None:
    refused = await install("--set", "replicaCount=2", "--set", "leaderElection.enabled=false")
    assert refused.returncode != 0 and "leaderElection.enabled" in refused.stderr


async def test_one_replica_without_leader_election_is_recreated(install: Install) -> None:
    installed = await install("--set", "leaderElection.enabled=false")
    assert installed.returncode == 0, installed.stderr
    deployment = installed.one("Deployment", "fleet-asrfleet", NAMESPACE)
    assert container_env(deployment)["ASRFLEET_LEASE_NAME"] == ""
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "never two writers at once"
    assert not installed.of_kind("Role"), "no lease rights without leader election"


async def test_make_install_path_upgrade_install_installs(install: Install) -> None:
    # `make install` without a helm binary runs `upgrade --install`; on an empty cluster that
    # is an install. (Upgrading an existing release needs Helm's release Secret, which the
    # emulator cannot store; tests/e2e installs this way too, on a real cluster.)
    installed = await install("--set", "replicaCount=2", verb=("upgrade", "--install"))
    assert installed.returncode == 0, installed.stderr
    assert installed.one("Deployment", "fleet-asrfleet", NAMESPACE)["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    "wrong",
    [
        'replicaCount="two"',
        'rbac.scope="everywhere"',
        'operator.healthPort="8081"',
        'console.auth="oidc"',
    ],
)
async def test_a_wrong_value_is_refused_at_install(install: Install, wrong: str) -> None:
    installed = await install("--set", wrong)
    assert installed.returncode != 0
    assert "schema" in installed.stderr.lower() and wrong.split("=")[0].split(".")[-1] in (
        installed.stderr
    )
    # Helm installs crds/ before it checks the values; nothing else may be created.
    created = {obj["kind"] for obj in installed.objects.values()}
    assert created <= {"CustomResourceDefinition"}, f"created from refused values: {created}"


def test_helm_lint_passes() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(CHART.parents[1] / "scripts" / "helm_chart.py"), "lint", str(CHART)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_fails_on_a_broken_chart(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    broken = tmp_path / "asrfleet"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "broken.yaml").write_text("{{ .Values.nope.missing }}\n")
    result = subprocess.run(
        [sys.executable, str(CHART.parents[1] / "scripts" / "helm_chart.py"), "lint", str(broken)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
