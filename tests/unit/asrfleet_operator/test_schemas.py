"""Every rendered manifest validates against the Kubernetes OpenAPI schemas of every supported
version; every example validates against its CRD's own schema (or, for built-in kinds, the
Kubernetes schemas) and parses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from asrfleet_operator.render import desired_children
from asrfleet_operator.render.speech_model import CachedModel, claim, fetch_job
from asrfleet_operator.settings import SUPPORTED_KUBERNETES_VERSIONS, Settings
from asrfleet_operator.spec import parse_spec, parse_speech_model

REPO = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((REPO / "crds" / "asrfleet.io_speechrecognizers.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
MODEL_CRD = yaml.safe_load((REPO / "crds" / "asrfleet.io_speechmodels.yaml").read_text())
MODEL_SCHEMA = MODEL_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

SPECS: dict[str, dict[str, Any]] = {
    "cpu": {"model": {"name": "whisper-tiny.en"}},
    "everything": {
        "model": {"uri": "https://models.example/faster-whisper-large-v3.tar.gz", "language": "zh"},
        "gpu": {"count": 1, "resourceName": "nvidia.com/mig-1g.10gb", "product": "A100"},
        "autoscaling": {
            "minReplicas": 1,
            "maxReplicas": 8,
            "targetInflightRequests": 4,
            "targetCPUUtilizationPercentage": 70,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
        "nodeSelector": {"pool": "gpu"},
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "asr", "effect": "NoSchedule"}
        ],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {
                                "matchLabels": {"app.kubernetes.io/instance": "fleet"}
                            },
                        },
                    }
                ]
            }
        },
        "runtimeClassName": "nvidia",
        "priorityClassName": "high",
        "image": {"repository": "r.example/asr", "tag": "1", "pullSecrets": ["regcred"]},
        "service": {"type": "NodePort", "port": 8000, "annotations": {"x": "y"}},
        "podDisruptionBudget": {"minAvailable": "50%"},
        "monitoring": {"serviceMonitor": {"enabled": True}},
        "server": {"apiKeySecretRef": {"name": "k", "key": "v"}, "maxQueue": 3},
    },
    "pvc": {"model": {"uri": "pvc://models/large"}, "rollout": {"strategy": "Recreate"}},
    "credentials": {"model": {"uri": "s3://models/large/", "credentialsSecretRef": {"name": "s3"}}},
    "cache": {"model": {"speechModelRef": {"name": "large-v3"}}, "gpu": {"count": 1}},
}
SPEECH_MODELS: dict[str, dict[str, Any]] = {
    "new-claim": {
        "uri": "hf://Systran/faster-whisper-large-v3@edaa852",
        "credentialsSecretRef": {"name": "hf-token"},
        "storage": {"size": "10Gi", "storageClassName": "nfs", "accessModes": ["ReadWriteMany"]},
    },
    "existing-claim": {"uri": "s3://models/large-v3/", "storage": {"existingClaim": "team"}},
}


@pytest.mark.parametrize("version", SUPPORTED_KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_rendered_manifests_validate(version: str, name: str) -> None:
    spec = parse_spec(SPECS[name], name="fleet")
    cached = CachedModel("large-v3", "large-v3", "0123456789")
    children = desired_children("fleet", "speech", spec, Settings(), "sum", cached)
    for kind, manifest in children.items():
        if manifest is None or kind.kind == "ServiceMonitor":  # not a built-in kind
            continue
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("version", SUPPORTED_KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(SPEECH_MODELS))
def test_a_speech_models_claim_and_job_validate(version: str, name: str) -> None:
    spec = parse_speech_model(SPEECH_MODELS[name], name="large-v3")
    made = claim("large-v3", "speech", spec)
    for manifest in (made, fetch_job("large-v3", "speech", spec, Settings())):
        if manifest is not None:
            kubernetes_validate.validate(manifest, version, strict=True)


def test_supported_versions_are_shipped_by_kubernetes_validate() -> None:
    shipped = kubernetes_validate.utils.all_versions()
    for version in SUPPORTED_KUBERNETES_VERSIONS:
        assert any(v.startswith(version) for v in shipped), version


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_the_crd_and_parse(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        name = doc["metadata"]["name"]
        if doc["kind"] == "SpeechRecognizer":
            jsonschema.Draft4Validator(SCHEMA).validate(doc)
            parse_spec(doc["spec"], name=name)
        elif doc["kind"] == "SpeechModel":
            jsonschema.Draft4Validator(MODEL_SCHEMA).validate(doc)
            parse_speech_model(doc["spec"], name=name)
        else:
            for version in SUPPORTED_KUBERNETES_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)


def test_a_speech_models_users_find_it_in_the_same_file() -> None:
    for path in EXAMPLES:
        docs = list(yaml.safe_load_all(path.read_text()))
        models = {d["metadata"]["name"] for d in docs if d["kind"] == "SpeechModel"}
        for doc in docs:
            ref = ((doc.get("spec") or {}).get("model") or {}).get("speechModelRef")
            if doc["kind"] == "SpeechRecognizer" and ref:
                assert ref["name"] in models, path.name


def test_all_the_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "cpu-english.yaml",
        "gpu-mandarin.yaml",
        "custom-model-uri.yaml",
        "mig-slice.yaml",
        "large-v3-from-hf.yaml",
        "s3-model.yaml",
        "torch-hotwords.yaml",
    }


def test_crd_schema_rejects_what_it_should() -> None:
    validator = jsonschema.Draft4Validator(SCHEMA)
    bad = [
        {"spec": {}},  # model required
        {"spec": {"model": {"name": "whisper-base", "computeType": "fp8"}}},
        {"spec": {"model": {"uri": "ftp://x"}}},
        {"spec": {"model": {"name": "whisper-base"}, "replicas": -1}},
        {"spec": {"model": {"name": "whisper-base"}, "gpu": {"count": 99}}},
        {"spec": {"model": {"speechModelRef": {}}}},
        {"spec": {"model": {"speechModelRef": {"name": "Large_V3"}}}},
    ]
    for doc in bad:
        assert not validator.is_valid(doc), doc
    model_validator = jsonschema.Draft4Validator(MODEL_SCHEMA)
    for doc in [
        {"spec": {"storage": {"size": "1Gi"}}},  # uri required
        {"spec": {"uri": "s3://m/w"}},  # storage required
        {"spec": {"uri": "pvc://c/p", "storage": {"size": "1Gi"}}},
        {"spec": {"uri": "s3://m/w", "storage": {"size": "1Gi", "accessModes": ["ReadOnlyMany"]}}},
    ]:
        assert not model_validator.is_valid(doc), doc


def _walk(schema: dict[str, Any], path: str = "") -> list[str]:
    missing = [] if "description" in schema or path in ("", ".metadata") else [path]
    for key, sub in schema.get("properties", {}).items():
        missing += _walk(sub, f"{path}.{key}")
    if "items" in schema:
        missing += _walk(schema["items"], f"{path}[]")
    return missing


def test_every_field_has_a_description_for_kubectl_explain() -> None:
    assert _walk(SCHEMA) == []
    assert _walk(MODEL_SCHEMA) == []


def test_crd_declares_the_cel_rules_that_spec_py_also_enforces() -> None:
    spec = SCHEMA["properties"]["spec"]
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    rules += [r["rule"] for r in spec["properties"]["model"]["x-kubernetes-validations"]]
    rules += [r["rule"] for r in spec["properties"]["autoscaling"]["x-kubernetes-validations"]]
    rules += [
        r["rule"] for r in spec["properties"]["podDisruptionBudget"]["x-kubernetes-validations"]
    ]
    assert (
        "(has(self.name) ? 1 : 0) + (has(self.uri) ? 1 : 0) + (has(self.speechModelRef) ? 1 : 0)"
        " == 1"
    ) in rules
    assert "!has(self.credentialsSecretRef) || has(self.uri)" in rules
    storage = MODEL_SCHEMA["properties"]["spec"]["properties"]["storage"]
    model_rules = [r["rule"] for r in storage["x-kubernetes-validations"]]
    assert "has(self.size) != has(self.existingClaim)" in model_rules
    assert any("!has(self.storageClassName)" in r for r in model_rules)
    assert "self.minReplicas <= self.maxReplicas" in rules
    assert any("self.replicas >= self.autoscaling.minReplicas" in r for r in rules)
    assert "!(has(self.minAvailable) && has(self.maxUnavailable))" in rules


def test_crd_subresources_columns_and_names() -> None:
    version = CRD["spec"]["versions"][0]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    assert version["subresources"]["scale"]["labelSelectorPath"] == ".status.selector"
    assert "status" in version["subresources"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Ready",
        "Model",
        "URL",
        "Phase",
        "Age",
    ]
    assert set(CRD["spec"]["names"]["shortNames"]) == {"sr", "asr"}
