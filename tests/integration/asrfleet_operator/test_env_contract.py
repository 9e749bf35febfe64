"""Both sides of the operator <-> server contract: every ASR_* variable the operator renders is
one the server reads, with a value the server's config accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from asrfleet_operator.render.deployment import deployment
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import SpecError, parse_spec

config = pytest.importorskip("asr_server.config", reason="the inference server package is absent")

CRD = Path(__file__).resolve().parents[3] / "crds" / "asrfleet.io_speechrecognizers.yaml"
SCHEMA = yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

SPECS: list[dict[str, Any]] = [
    {"model": {"name": "whisper-tiny.en"}},
    {"model": {"name": "whisper-base", "language": "zh", "outputScript": "traditional"}},
    {"model": {"name": "whisper-base", "computeType": "float16"}, "gpu": {"count": 1}},
    {
        "model": {"uri": "hf://Systran/faster-whisper-large-v3", "computeType": "int8_float16"},
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
    assert (parsed.max_streams, parsed.stream_max_seconds) == (8, 900)
    assert (parsed.stream_idle_timeout_s, parsed.stream_partial_interval_ms) == (12.5, 250)
    assert parsed.stream_max_utterance_s == 30 and parsed.stream_endpoint_silence_ms == 300
    assert parsed.stream_encoder_context == "full"


STREAMING_ENV = {
    "maxStreams": "ASR_MAX_STREAMS",
    "maxStreamSeconds": "ASR_STREAM_MAX_SECONDS",
    "idleTimeoutSeconds": "ASR_STREAM_IDLE_TIMEOUT_S",
    "partialIntervalMilliseconds": "ASR_STREAM_PARTIAL_INTERVAL_MS",
    "maxUtteranceSeconds": "ASR_STREAM_MAX_UTTERANCE_S",
    "endpointSilenceMilliseconds": "ASR_STREAM_ENDPOINT_SILENCE_MS",
    "encoderContext": "ASR_STREAM_ENCODER_CONTEXT",
}
EDGES: list[tuple[str, Any]] = [
    ("maxStreams", 0),
    ("maxStreams", -1),
    ("maxStreamSeconds", 0.001),
    ("maxStreamSeconds", 0),
    ("idleTimeoutSeconds", 0.5),
    ("idleTimeoutSeconds", 0),
    ("partialIntervalMilliseconds", 0.25),
    ("partialIntervalMilliseconds", 0),
    ("maxUtteranceSeconds", 30),
    ("maxUtteranceSeconds", 30.001),
    ("maxUtteranceSeconds", 0),
    ("endpointSilenceMilliseconds", 100),
    ("endpointSilenceMilliseconds", 99),
    ("endpointSilenceMilliseconds", 5000),
    ("endpointSilenceMilliseconds", 5001),
    ("encoderContext", "trimmed"),
    ("encoderContext", "half"),
]


@pytest.mark.parametrize(("key", "value"), EDGES, ids=lambda x: str(x))
def test_crd_operator_and_server_agree_on_streaming_bounds(key: str, value: Any) -> None:
    """The CRD, the operator's parse and the server's config accept the same values, so a
    SpeechRecognizer the API server admits never stops its pods at start-up."""
    spec = {"model": {"name": "whisper-tiny.en"}, "server": {"streaming": {key: value}}}
    crd_accepts = jsonschema.Draft4Validator(SCHEMA).is_valid({"spec": spec})
    try:
        rendered = {e["name"]: e["value"] for e in rendered_env(spec) if "value" in e}
    except SpecError:
        rendered = None
    try:
        config.ServerConfig.from_env({STREAMING_ENV[key]: str(value)})
        server_accepts = True
    except config.ConfigError:
        server_accepts = False
    assert crd_accepts == (rendered is not None) == server_accepts
    if rendered is not None:
        config.ServerConfig.from_env(rendered)
