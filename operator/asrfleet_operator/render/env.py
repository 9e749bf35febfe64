"""The operator's side of the operator <-> server contract: spec -> `ASR_*` container env.

`tests/integration/asrfleet_operator/test_env_contract.py` checks every name rendered here
against `asr_server.config.env_names()` and every value against `ServerConfig.from_env`.
"""

from __future__ import annotations

import math
from typing import Any

from asrfleet_operator.render.labels import HTTP_PORT
from asrfleet_operator.render.speech_model import CachedModel
from asrfleet_operator.spec import SpeechRecognizerSpec

MODEL_DIR = "/models"
MODEL_SOURCE_DIR = "/model-source"  # where a pvc:// model's claim is mounted (read-only)
DEFAULT_REQUEST_TIMEOUT_S = 120.0  # the server's default; drives the drain and grace periods


def drain_seconds(spec: SpeechRecognizerSpec) -> int:
    """How long SIGTERM waits for in-flight work: the longest a request may take, plus slack."""
    timeout = spec.server.request_timeout_seconds or DEFAULT_REQUEST_TIMEOUT_S
    return math.ceil(timeout) + 5


def termination_grace_seconds(spec: SpeechRecognizerSpec) -> int:
    """Kubernetes kills the pod after this: the drain time plus time to exit."""
    return drain_seconds(spec) + 10


def model_location(spec: SpeechRecognizerSpec, cached: CachedModel | None = None) -> str:
    """The value of ASR_MODEL: a catalogue name, the SpeechModel's directory on its claim, or
    the local directory a uri model lands in."""
    model = spec.model
    if model.name:
        return model.name
    if cached is not None:
        return cached.model_dir
    assert model.uri is not None
    if model.uri.startswith("pvc://"):
        path = model.uri.removeprefix("pvc://").partition("/")[2]
        return f"{MODEL_SOURCE_DIR}/{path.strip('/')}"
    return f"{MODEL_DIR}/{model.served_name}"


def server_env(
    spec: SpeechRecognizerSpec, cached: CachedModel | None = None
) -> list[dict[str, Any]]:
    """The container's env list (order is stable so that re-renders compare equal)."""
    model = spec.model
    values: list[tuple[str, Any]] = [
        ("ASR_MODEL", model_location(spec, cached)),
        ("ASR_MODEL_DIR", MODEL_DIR),
        ("ASR_ENGINE", model.engine),
        ("ASR_DEVICE", "cuda" if spec.uses_gpu else "cpu"),
        ("ASR_COMPUTE_TYPE", model.compute_type),
        ("ASR_LANGUAGE", model.language),
        ("ASR_OUTPUT_SCRIPT", model.output_script),
        ("ASR_PORT", HTTP_PORT),
        ("ASR_LOG_FORMAT", "json"),
        ("ASR_DRAIN_SECONDS", drain_seconds(spec)),
    ]
    server = spec.server
    values += [
        ("ASR_MAX_CONCURRENCY", server.max_concurrent_requests),
        ("ASR_MAX_QUEUE", server.max_queue),
        ("ASR_MAX_AUDIO_SECONDS", server.max_audio_seconds),
        ("ASR_MAX_BODY_MB", server.max_body_megabytes),
        ("ASR_REQUEST_TIMEOUT_S", server.request_timeout_seconds),
        ("ASR_BATCH_MAX_SIZE", server.max_batch_size),
        ("ASR_BATCH_MAX_WAIT_MS", server.max_wait_milliseconds),
        ("ASR_ENCODER_CONTEXT", server.encoder_context),
        ("ASR_BEAM_SIZE", server.beam_size),
        ("ASR_CPU_LAYOUT", server.cpu_layout),
        ("ASR_CACHE_ENTRIES", server.cache_entries),
    ]
    streaming = server.streaming
    values += [
        ("ASR_MAX_STREAMS", streaming.max_streams),
        ("ASR_STREAM_MAX_SECONDS", streaming.max_stream_seconds),
        ("ASR_STREAM_IDLE_TIMEOUT_S", streaming.idle_timeout_seconds),
        ("ASR_STREAM_PARTIAL_INTERVAL_MS", streaming.partial_interval_milliseconds),
        ("ASR_STREAM_MAX_UTTERANCE_S", streaming.max_utterance_seconds),
        ("ASR_STREAM_ENDPOINT_SILENCE_MS", streaming.endpoint_silence_milliseconds),
        ("ASR_STREAM_ENCODER_CONTEXT", streaming.encoder_context),
    ]
    env: list[dict[str, Any]] = [
        {"name": name, "value": _text(value)} for name, value in values if value is not None
    ]
    ref = server.api_key_secret_ref
    if ref is not None:
        env.append(
            {
                "name": "ASR_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
            }
        )
    return env


def _text(value: Any) -> str:
    # Env values are strings; render 2.0 as "2" so the manifest reads as the user wrote it.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
