"""spec.parse_spec: defaults, and every problem reported as `path: what is wrong`."""

from __future__ import annotations

import pytest
from asrfleet_operator.spec import SpecError, StreamingSpec, parse_spec


def problems(spec: dict[str, object], name: str = "fleet") -> list[str]:
    with pytest.raises(SpecError) as err:
        parse_spec(spec, name=name)
    return err.value.problems


def test_minimal_spec_gets_the_documented_defaults() -> None:
    spec = parse_spec({"model": {"name": "whisper-base"}})
    assert spec.replicas == 1 and spec.autoscaling is None and not spec.suspend
    assert spec.gpu.count == 0 and spec.gpu.resource_name == "nvidia.com/gpu"
    assert spec.model.engine == "faster-whisper" and spec.model.compute_type == "auto"
    assert spec.service.type == "ClusterIP" and spec.service.port == 80
    assert spec.pod_disruption_budget is None and not spec.service_monitor_enabled


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        {
            "model": {"name": "whisper-tiny.en", "uri": "ftp://x", "language": "zh"},
            "replicas": -1,
            "autoscaling": {"minReplicas": 5, "maxReplicas": 2},
            "server": {"maxAudioSeconds": 0},
            "nodeSelector": {"zone": 3},
        },
        name="Bad_Name",
    )
    paths = [p.split(":")[0] for p in found]
    assert paths == [
        "metadata.name",
        "spec.model",
        "spec.model.uri",
        "spec.model.language",
        "spec.autoscaling.minReplicas",
        "spec.replicas",
        "spec.nodeSelector.zone",
        "spec.server.maxAudioSeconds",
    ]


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({}, "spec.model"),
        ({"model": {}}, "spec.model"),
        ({"model": {"name": "whisper-huge"}}, "spec.model.name"),
        ({"model": {"uri": "pvc://Bad_Claim/x"}}, "spec.model.uri"),
        ({"model": {"uri": "pvc://claim"}}, "spec.model.uri"),
        ({"model": {"name": "whisper-base", "computeType": "float16"}}, "spec.model.computeType"),
        ({"model": {"name": "whisper-base"}, "gpu": {"product": "A100"}}, "spec.gpu.product"),
        (
            {"model": {"name": "whisper-base"}, "autoscaling": {"maxReplicas": 3}, "replicas": 9},
            "spec.replicas",
        ),
        ({"model": {"name": "whisper-base"}, "autoscaling": {}}, "spec.autoscaling.maxReplicas"),
        (
            {
                "model": {"name": "whisper-base"},
                "podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1},
            },
            "spec.podDisruptionBudget",
        ),
        (
            {"model": {"name": "whisper-base"}, "rollout": {"maxSurge": "150%"}},
            "spec.rollout.maxSurge",
        ),
        (
            {"model": {"name": "whisper-base"}, "rollout": {"maxSurge": 0, "maxUnavailable": 0}},
            "spec.rollout",
        ),
        (
            {"model": {"name": "whisper-base"}, "gpu": {"resourceName": "bad name"}},
            "spec.gpu.resourceName",
        ),
        (
            {"model": {"name": "whisper-base"}, "server": {"apiKeySecretRef": {"name": "s"}}},
            "spec.server.apiKeySecretRef",
        ),
        ({"model": {"name": "whisper-base"}, "replicas": "2"}, "spec.replicas"),
        ({"model": {"name": "whisper-base"}, "suspend": "yes"}, "spec.suspend"),
        ({"model": {"name": "whisper-base"}, "resources": {"limit": {}}}, "spec.resources.limit"),
        (
            {"model": {"name": "whisper-base"}, "server": {"batching": {"encoderContext": "half"}}},
            "spec.server.batching.encoderContext",
        ),
        (
            {"model": {"name": "whisper-base"}, "server": {"cpuLayout": "many"}},
            "spec.server.cpuLayout",
        ),
        (
            {"model": {"name": "whisper-base"}, "server": {"decoding": {"beamSize": 11}}},
            "spec.server.decoding.beamSize",
        ),
        (
            {"model": {"name": "whisper-base"}, "server": {"decoding": 5}},
            "spec.server.decoding",
        ),
        *(
            (
                {"model": {"name": "whisper-base"}, "server": {"streaming": {key: value}}},
                f"spec.server.streaming.{key}",
            )
            for key, value in [
                ("maxStreams", -1),
                ("maxStreams", 8.5),
                ("maxStreamSeconds", 0),
                ("idleTimeoutSeconds", -5),
                ("partialIntervalMilliseconds", "500"),
                ("maxUtteranceSeconds", 0),
                ("maxUtteranceSeconds", 31),
                ("endpointSilenceMilliseconds", 99),
                ("endpointSilenceMilliseconds", 5001),
                ("endpointSilenceMilliseconds", 300.5),
                ("encoderContext", "half"),
            ]
        ),
        (
            {"model": {"name": "whisper-base"}, "server": {"streaming": 8}},
            "spec.server.streaming",
        ),
    ],
)
def test_semantic_problems_name_the_field(spec: dict[str, object], path: str) -> None:
    assert path in [p.split(":")[0] for p in problems(spec)]


TORCH = {"name": "whisper-base", "engine": "torch"}


@pytest.mark.parametrize(
    ("compute_type", "gpus", "what"),
    [
        ("int8_float16", 1, "int8_float16 is not one the torch engine runs"),
        ("int8", 1, "int8 runs on the CPU only with torch"),
        ("int8_float32", 1, "int8_float32 runs on the CPU only with torch"),
        ("float16", 0, "float16 needs gpu.count >= 1"),
    ],
)
def test_torch_compute_types_the_engine_cannot_run_are_refused(
    compute_type: str, gpus: int, what: str
) -> None:
    spec = {"model": {**TORCH, "computeType": compute_type}, "gpu": {"count": gpus}}
    assert problems(spec) == [f"spec.model.computeType: {what}"]


@pytest.mark.parametrize(
    ("compute_type", "gpus"),
    [("auto", 0), ("float32", 0), ("int8", 0), ("int8_float32", 0), ("float16", 1), ("auto", 1)],
)
def test_torch_runs_its_compute_types(compute_type: str, gpus: int) -> None:
    spec = parse_spec({"model": {**TORCH, "computeType": compute_type}, "gpu": {"count": gpus}})
    assert spec.model.engine == "torch" and spec.model.compute_type == compute_type


def test_long_names_are_refused_because_they_name_the_children() -> None:
    assert problems({"model": {"name": "whisper-base"}}, name="a" * 60)[0].startswith(
        "metadata.name"
    )


def test_uri_model_gets_a_directory_name() -> None:
    spec = parse_spec({"model": {"uri": "https://models.example/Systran/Faster-Whisper-Large-V3/"}})
    assert spec.model.served_name == "faster-whisper-large-v3"


def test_streaming_settings_parse_typed_and_unset_ones_stay_none() -> None:
    spec = parse_spec(
        {
            "model": {"name": "whisper-tiny.en"},
            "server": {
                "streaming": {
                    "maxStreams": 0,
                    "maxStreamSeconds": 600,
                    "idleTimeoutSeconds": 12.5,
                    "partialIntervalMilliseconds": 250,
                    "maxUtteranceSeconds": 30,
                    "endpointSilenceMilliseconds": 100,
                    "encoderContext": "full",
                }
            },
        }
    )
    assert spec.server.streaming == StreamingSpec(
        max_streams=0,
        max_stream_seconds=600.0,
        idle_timeout_seconds=12.5,
        partial_interval_milliseconds=250.0,
        max_utterance_seconds=30.0,
        endpoint_silence_milliseconds=100,
        encoder_context="full",
    )
    assert parse_spec({"model": {"name": "whisper-base"}}).server.streaming == StreamingSpec()


def test_each_monitoring_problem_is_reported_once() -> None:
    found = problems(
        {
            "model": {"name": "whisper-base"},
            "monitoring": {"serviceMonitor": {"enabled": "yes", "interval": "soon"}},
        }
    )
    assert [p.split(":")[0] for p in found] == [
        "spec.monitoring.serviceMonitor.enabled",
        "spec.monitoring.serviceMonitor.interval",
    ]


def test_bounds_the_crd_states_are_checked_here_too() -> None:
    """Without the CRD's schema (an old CRD, an API server without it) the same bounds hold."""
    found = problems(
        {
            "model": {"name": "whisper-huge"},
            "replicas": 1001,
            "gpu": {"count": 17, "product": "A" * 64},
            "runtimeClassName": "Bad_Name",
        }
    )
    assert [p.split(":")[0] for p in found] == [
        "spec.model.name",
        "spec.replicas",
        "spec.gpu.count",
        "spec.gpu.product",
        "spec.runtimeClassName",
    ]
    assert "must be 0-1000; got 1001" in found[1]
