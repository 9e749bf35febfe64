"""`spec.server`: the inference server's settings, each checked against the contract field the
server checks its own variable against, so a spec accepted here never stops a pod at start-up."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.types import SecretKeyRef, ServerSpec, StreamingSpec


def server_section(r: Reader, value: Any) -> ServerSpec:
    p = "spec.server"
    raw = r.mapping(value, p) or {}
    batching = r.mapping(raw.get("batching"), f"{p}.batching") or {}
    decoding = r.mapping(raw.get("decoding"), f"{p}.decoding") or {}
    return ServerSpec(
        max_concurrent_requests=r.integer(raw, c.MAX_CONCURRENT_REQUESTS),
        max_queue=r.integer(raw, c.MAX_QUEUE),
        max_audio_seconds=r.number(raw, c.MAX_AUDIO_SECONDS),
        max_body_megabytes=r.number(raw, c.MAX_BODY_MEGABYTES),
        request_timeout_seconds=r.number(raw, c.REQUEST_TIMEOUT_SECONDS),
        max_batch_size=r.integer(batching, c.MAX_BATCH_SIZE),
        max_wait_milliseconds=r.number(batching, c.MAX_WAIT_MILLISECONDS),
        encoder_context=r.choice(batching, c.ENCODER_CONTEXT),
        beam_size=r.integer(decoding, c.BEAM_SIZE),
        cpu_layout=r.choice(raw, c.CPU_LAYOUT),
        api_key_secret_ref=_secret_ref(r, raw.get("apiKeySecretRef")),
        cache_entries=r.integer(raw, c.CACHE_ENTRIES),
        streaming=streaming_section(r, raw.get("streaming")),
    )


def _secret_ref(r: Reader, value: Any) -> SecretKeyRef | None:
    p = "spec.server.apiKeySecretRef"
    raw = r.mapping(value, p)
    if raw is None:
        return None
    name = r.string(raw, c.API_KEY_SECRET_NAME)
    key = r.string(raw, c.API_KEY_SECRET_KEY)
    if name is None or key is None:
        r.problem(p, "needs both name and key")
        return None
    return SecretKeyRef(name=name, key=key)


def streaming_section(r: Reader, value: Any) -> StreamingSpec:
    raw = r.mapping(value, "spec.server.streaming") or {}
    return StreamingSpec(
        max_streams=r.integer(raw, c.MAX_STREAMS),
        max_stream_seconds=r.number(raw, c.MAX_STREAM_SECONDS),
        idle_timeout_seconds=r.number(raw, c.IDLE_TIMEOUT_SECONDS),
        partial_interval_milliseconds=r.number(raw, c.PARTIAL_INTERVAL_MILLISECONDS),
        max_utterance_seconds=r.number(raw, c.MAX_UTTERANCE_SECONDS),
        endpoint_silence_milliseconds=r.integer(raw, c.ENDPOINT_SILENCE_MILLISECONDS),
        encoder_context=r.choice(raw, c.STREAM_ENCODER_CONTEXT),
    )
