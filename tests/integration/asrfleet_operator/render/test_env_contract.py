"""Both sides of the operator <-> server contract: every ASR_* variable the operator renders is
one the server reads, with a value the server's config accepts (the bounds of each value are
checked field by field in tests/integration/asrfleet_operator/spec/test_contract.py)."""

from __future__ import annotations

from typing import Any

import pytest
from asrfleet_operator.render.deployment import deployment
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import parse_spec

config = pytest.importorskip("asr_server.config", reason="the inference server package is absent")


SPECS: list[dict[str, Any]] = [
    {"model": {"name": "whisper-tiny.en"}},
    {"model": {"name": "whisper-base", "language": "zh", "outputScript": "traditional"}},
    {"model": {"name": "whisper-base", "computeType": "float16"}, "gpu": {"count": 1}},
    {
        "model": {
            "uri": "https://models.example/faster-whisper-large-v3.tar.gz",
            "computeType": "int8_float16",
        },
        "gpu": {"count": 2},
    },
    {"model": {"uri": "pvc://models/whisper/large-v3"}},
    {
        "model": {"name": "whisper-base", "computeType": "int8", "outputScript": "as-is"},
        "server": {
            "maxConcurrentRequests": 4,
            "maxQueue": 32,
            "maxAudioSeconds": 300,
            "maxBodyMegabytes": 12.5,
            "requestTimeoutSeconds": 60,
            "batching": {"maxBatchSize": 8, "maxWaitMilliseconds": 15, "encoderContext": "trimmed"},
            "decoding": {"beamSize": 5},
            "cpuLayout": "adaptive",
            "apiKeySecretRef": {"name": "asr-key", "key": "token"},
            "cacheEntries": 0,
            "streaming": {
                "maxStreams": 8,
                "maxStreamSeconds": 900,
                "idleTimeoutSeconds": 12.5,
                "partialIntervalMilliseconds": 250,
                "maxUtteranceSeconds": 30,
                "endpointSilenceMilliseconds": 300,
                "encoderContext": "full",
            },
        },
    },
]


def rendered_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    dep = deployment("fleet", "speech", parse_spec(spec, name="fleet"), Settings())
    env: list[dict[str, Any]] = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s["model"]))
def test_server_accepts_every_rendered_variable_and_value(spec: dict[str, Any]) -> None:
    env = rendered_env(spec)
    names = {item["name"] for item in env}
    assert names <= config.env_names(), names - config.env_names()
    values = {item["name"]: item.get("value", "sample-secret-value") for item in env}
    parsed = config.ServerConfig.from_env(values)
    assert parsed.port == 8080
    assert parsed.device in ("cpu", "cuda")


def test_server_values_reach_the_server_unchanged() -> None:
    parsed = config.ServerConfig.from_env(
        {e["name"]: e.get("value", "k") for e in rendered_env(SPECS[-1])}
    )
    assert (parsed.max_concurrency, parsed.max_queue, parsed.batch_max_size) == (4, 32, 8)
    assert parsed.max_body_mb == 12.5 and parsed.request_timeout_s == 60
    assert parsed.cache_entries == 0 and parsed.api_key == "k"
    assert parsed.output_script == "as-is" and parsed.compute_type == "int8"
    assert (parsed.encoder_context, parsed.cpu_layout) == ("trimmed", "adaptive")
    assert parsed.beam_size == 5
    assert (parsed.max_streams, parsed.stream_max_seconds) == (8, 900)
    assert (parsed.stream_idle_timeout_s, parsed.stream_partial_interval_ms) == (12.5, 250)
    assert parsed.stream_max_utterance_s == 30 and parsed.stream_endpoint_silence_ms == 300
    assert parsed.stream_encoder_context == "full"
