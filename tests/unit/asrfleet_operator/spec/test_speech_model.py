"""spec.parse_speech_model and the SpeechRecognizer's ways to name a model: what a schema
cannot say (a size above zero, the rules across fields), each problem with its path."""

from __future__ import annotations

from typing import Any

import pytest
from asrfleet_operator.spec import SpecError, StorageSpec, parse_spec, parse_speech_model


def problems(spec: dict[str, Any], name: str = "large-v3") -> list[str]:
    with pytest.raises(SpecError) as err:
        parse_speech_model(spec, name=name)
    return err.value.problems


def test_a_minimal_speech_model_gets_the_documented_defaults() -> None:
    spec = parse_speech_model({"uri": "s3://models/w/", "storage": {"size": "10Gi"}}, name="w")
    assert spec.engine == "faster-whisper" and spec.credentials_secret is None
    assert spec.storage == StorageSpec(size="10Gi", access_modes=("ReadWriteOnce",))


def test_every_problem_is_reported_with_its_path() -> None:
    found = problems(
        {"uri": "pvc://c/p", "credentialsSecretRef": {}, "storage": {"size": "0"}}, name="X"
    )
    assert [p.split(":")[0] for p in found] == [
        "metadata.name",
        "spec.uri",
        "spec.credentialsSecretRef.name",
        "spec.storage.size",
    ]
    assert "above zero" in found[-1]


def test_the_download_pods_scheduling_is_checked_like_a_speech_recognizers() -> None:
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    spec = parse_speech_model(
        {
            "uri": "s3://m/w",
            "storage": {"size": "1Gi"},
            "nodeSelector": {"pool": "gpu"},
            "tolerations": tolerations,
        },
        name="w",
    )
    assert spec.node_selector == {"pool": "gpu"} and spec.tolerations == tuple(tolerations)
    found = problems(
        {
            "uri": "s3://m/w",
            "storage": {"size": "1Gi"},
            "nodeSelector": {"pool": 1},
            "tolerations": ["gpu"],
        }
    )
    assert [p.split(":")[0] for p in found] == ["spec.nodeSelector.pool", "spec.tolerations[0]"]


@pytest.mark.parametrize(
    ("storage", "what"),
    [
        ({"size": "1Gi", "existingClaim": "c"}, "not both"),
        ({}, "not both"),
        ({"existingClaim": "c", "storageClassName": "nfs"}, "are for a new claim"),
        ({"existingClaim": "c", "accessModes": ["ReadWriteMany"]}, "are for a new claim"),
    ],
)
def test_a_new_claim_or_an_existing_one(storage: dict[str, Any], what: str) -> None:
    [found] = problems({"uri": "s3://m/w", "storage": storage})
    assert found.startswith("spec.storage:") and what in found


def test_storage_and_uri_are_required() -> None:
    assert problems({}) == [
        "spec.uri: is required",
        "spec.storage: is required (storage.size for a new claim, or storage.existingClaim)",
    ]


def test_the_name_leaves_room_for_the_job_suffix() -> None:
    assert problems({"uri": "s3://m/w", "storage": {"size": "1Gi"}}, name="m" * 53)


def test_a_speech_recognizer_names_exactly_one_model() -> None:
    spec = parse_spec({"model": {"speechModelRef": {"name": "large-v3"}}})
    assert spec.model.speech_model == "large-v3" and spec.model.served_name == "large-v3"
    with pytest.raises(
        SpecError, match=r"set exactly one of model\.name, model\.uri or model\.speechModelRef"
    ):
        parse_spec({"model": {"name": "whisper-base", "speechModelRef": {"name": "m"}}})
    with pytest.raises(SpecError, match=r"spec\.model\.speechModelRef\.name: is required"):
        parse_spec({"model": {"speechModelRef": {}}})


def test_credentials_go_with_a_uri_only() -> None:
    spec = parse_spec({"model": {"uri": "hf://org/repo", "credentialsSecretRef": {"name": "hf"}}})
    assert spec.model.credentials_secret == "hf"
    with pytest.raises(SpecError, match=r"is for a model\.uri"):
        parse_spec({"model": {"name": "whisper-base", "credentialsSecretRef": {"name": "hf"}}})
