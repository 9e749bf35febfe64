"""Client events of OpenAI's Realtime API (transcription mode), parsed once into dataclasses.

Names and shapes are the openai package's own (`openai.types.beta.realtime` for the beta,
`openai.types.realtime` for GA): `transcription_session.update` (beta) and `session.update`
with `session.type: "transcription"` (GA), `input_audio_buffer.append` / `.commit` /
`.clear`. A bad event raises `RealtimeError` (an `error` event; the session goes on). A
session update is parsed against the current configuration, so it carries the whole new
one: fields it does not name keep their values (OpenAI's semantics), a nested object it names
is replaced as a whole.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from asr_server.config import ENDPOINT_SILENCE_MS
from asr_server.errors import BadRequest
from asr_server.fields import MAX_TEXT_CHARS, NO_CONTEXT, FieldContext, parse_language
from asr_server.streaming.realtime.config import (
    DEFAULT_DELAY,
    DELAYS,
    INPUT_RATES,
    LOGPROBS,
    OPENAI_INPUT_RATE,
    InputTranscription,
    ServerVad,
    SessionConfig,
)

Shape = Literal["beta", "ga"]

MAX_EVENT_ID_CHARS = 512
PREFIX_PADDING_MS = (0, 2000)
"""Bounds of `prefix_padding_ms` here (OpenAI's default is 300)."""
THRESHOLD = (0.01, 0.99)
NOISE_REDUCTION_TYPES = ("near_field", "far_field")

UNSUPPORTED_EVENTS = frozenset(
    {
        "conversation.item.create",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
    }
)
"""Client events of OpenAI's conversation mode: answered with an `unsupported_event` error."""

# The keys each object may hold, from the openai package's types (others: unknown_parameter).
_BETA_SESSION_KEYS = frozenset(
    {
        "client_secret",
        "include",
        "input_audio_format",
        "input_audio_noise_reduction",
        "input_audio_transcription",
        "modalities",
        "turn_detection",
    }
)
_GA_SESSION_KEYS = frozenset({"type", "audio", "include"})
_GA_INPUT_KEYS = frozenset({"format", "noise_reduction", "transcription", "turn_detection"})
_TRANSCRIPTION_KEYS = frozenset({"model", "language", "prompt"})
_GA_TRANSCRIPTION_KEYS = _TRANSCRIPTION_KEYS | {"keywords", "languages", "delay"}
_TURN_DETECTION_KEYS = frozenset(
    {
        "type",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "create_response",
        "interrupt_response",
        "idle_timeout_ms",
        "eagerness",
    }
)
_NOISE_REDUCTION_KEYS = frozenset({"type", "strength"})


class RealtimeError(Exception):
    """A client event the server cannot accept: the `error` event's fields."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        type: str = "invalid_request_error",
        event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.event_id = event_id


@dataclass(frozen=True)
class SessionUpdate:
    config: SessionConfig
    """The whole configuration after the update."""
    shape: Shape
    """The shape it came in, and the shape of the `...updated` answer."""
    event_id: str | None = None


@dataclass(frozen=True)
class AppendAudio:
    audio: bytes
    """PCM16 little-endian mono at the session's input rate."""
    event_id: str | None = None


@dataclass(frozen=True)
class CommitAudio:
    event_id: str | None = None


@dataclass(frozen=True)
class ClearAudio:
    event_id: str | None = None


ClientEvent = SessionUpdate | AppendAudio | CommitAudio | ClearAudio


def parse_client_event(
    text: str, current: SessionConfig, context: FieldContext = NO_CONTEXT
) -> ClientEvent:
    """One text frame -> its event, or RealtimeError naming the bad field; `context` says what
    the loaded model speaks (the same rule as every other API's `language`)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise RealtimeError("the event is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise RealtimeError("an event must be a JSON object", code="invalid_json")
    event_id = data.get("event_id")
    if event_id is not None and not (
        isinstance(event_id, str) and len(event_id) <= MAX_EVENT_ID_CHARS
    ):
        raise RealtimeError(
            f"event_id must be a string of at most {MAX_EVENT_ID_CHARS} characters",
            code="invalid_type",
            param="event_id",
        )
    try:
        return _parse(data, current, event_id, context)
    except RealtimeError as exc:
        exc.event_id = event_id
        raise


def _parse(
    data: dict[str, Any], current: SessionConfig, event_id: str | None, context: FieldContext
) -> ClientEvent:
    kind = data.get("type")
    if kind is None:
        raise RealtimeError(
            "missing required parameter: 'type'", code="missing_required_parameter", param="type"
        )
    if kind == "input_audio_buffer.append":
        return AppendAudio(_audio(data), event_id)
    if kind == "input_audio_buffer.commit":
        return CommitAudio(event_id)
    if kind == "input_audio_buffer.clear":
        return ClearAudio(event_id)
    if kind == "transcription_session.update":
        session = _object(data, "session", "session", required=True)
        assert session is not None
        return SessionUpdate(_beta_session(session, current, context), "beta", event_id)
    if kind == "session.update":
        session = _object(data, "session", "session", required=True)
        assert session is not None
        return SessionUpdate(_ga_session(session, current, context), "ga", event_id)
    if kind in UNSUPPORTED_EVENTS:
        raise RealtimeError(
            f"{kind} is not supported: this server only transcribes "
            "(intent=transcription); it has no conversation, responses or audio output",
            code="unsupported_event",
            param="type",
        )
    raise RealtimeError(
        f"unknown event type {str(kind)[:80]!r}; a transcription session accepts "
        "input_audio_buffer.append, .commit and .clear, transcription_session.update (beta) "
        "and session.update (GA)",
        code="invalid_value",
        param="type",
    )


def _audio(data: dict[str, Any]) -> bytes:
    audio = data.get("audio")
    if audio is None:
        raise RealtimeError(
            "missing required parameter: 'audio'", code="missing_required_parameter", param="audio"
        )
    if not isinstance(audio, str):
        raise RealtimeError("audio must be a base64 string", code="invalid_type", param="audio")
    try:
        return base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise RealtimeError(
            "audio is not valid base64", code="invalid_value", param="audio"
        ) from None


# --- session updates ----------------------------------------------------------------------


def _beta_session(
    session: dict[str, Any], current: SessionConfig, context: FieldContext
) -> SessionConfig:
    _known(session, _BETA_SESSION_KEYS, "session")
    config = current
    if "input_audio_format" in session:
        value = session["input_audio_format"]
        if value != "pcm16":
            raise RealtimeError(
                f"input_audio_format {str(value)[:40]!r} is not supported; send pcm16 "
                "(24 kHz mono little-endian PCM16)",
                code="invalid_value",
                param="session.input_audio_format",
            )
        config = replace(config, input_rate=OPENAI_INPUT_RATE)
    if "input_audio_transcription" in session:
        path = "session.input_audio_transcription"
        transcription = _transcription(session, path, context, beta=True)
        config = replace(config, transcription=transcription)
    if "turn_detection" in session:
        config = replace(config, turn_detection=_turn_detection(session, "session", current))
    if "input_audio_noise_reduction" in session:
        path = "session.input_audio_noise_reduction"
        config = replace(config, noise_reduction=_noise_reduction(session, path))
    if "include" in session:
        config = replace(config, include=_include(session))
    return config


def _ga_session(
    session: dict[str, Any], current: SessionConfig, context: FieldContext
) -> SessionConfig:
    _known(session, _GA_SESSION_KEYS, "session")
    kind = session.get("type")
    if kind != "transcription":
        if kind is None:
            raise RealtimeError(
                "missing required parameter: 'session.type' (transcription)",
                code="missing_required_parameter",
                param="session.type",
            )
        raise RealtimeError(
            f"session.type {str(kind)[:40]!r} is not supported: this server only transcribes; "
            "use session.type 'transcription'",
            code="unsupported_session_type",
            param="session.type",
        )
    config = current
    audio = _object(session, "audio", "session.audio")
    audio_input = _object(audio, "input", "session.audio.input") if audio else None
    if audio_input is not None:
        path = "session.audio.input"
        _known(audio_input, _GA_INPUT_KEYS, path)
        if "format" in audio_input:
            config = replace(config, input_rate=_ga_format(audio_input, path))
        if "transcription" in audio_input:
            config = replace(
                config, transcription=_transcription(audio_input, f"{path}.transcription", context)
            )
        if "turn_detection" in audio_input:
            config = replace(config, turn_detection=_turn_detection(audio_input, path, current))
        if "noise_reduction" in audio_input:
            path = f"{path}.noise_reduction"
            config = replace(config, noise_reduction=_noise_reduction(audio_input, path))
    if "include" in session:
        config = replace(config, include=_include(session))
    return config


def _ga_format(audio_input: dict[str, Any], path: str) -> int:
    fmt = _object(audio_input, "format", f"{path}.format")
    if fmt is None:
        return OPENAI_INPUT_RATE
    _known(fmt, frozenset({"type", "rate"}), f"{path}.format")
    kind = fmt.get("type", "audio/pcm")
    if kind != "audio/pcm":
        raise RealtimeError(
            f"audio format {str(kind)[:40]!r} is not supported; send audio/pcm (PCM16 mono)",
            code="invalid_value",
            param=f"{path}.format.type",
        )
    low, high = INPUT_RATES
    return _int(fmt, "rate", f"{path}.format.rate", low, high, OPENAI_INPUT_RATE)


def _transcription(
    parent: dict[str, Any], path: str, context: FieldContext, *, beta: bool = False
) -> InputTranscription:
    name = path.rsplit(".", 1)[1]
    words = _object(parent, name, path)
    if words is None:  # null: OpenAI turns transcription off; here it is all there is
        raise RealtimeError(
            "transcription cannot be turned off in a transcription session",
            code="invalid_value",
            param=path,
        )
    _known(words, _TRANSCRIPTION_KEYS if beta else _GA_TRANSCRIPTION_KEYS, path)
    model = _text(words, "model", f"{path}.model", 200) or InputTranscription.model
    keywords = words.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise RealtimeError(
            "keywords must be a list of strings", code="invalid_type", param=f"{path}.keywords"
        )
    if sum(len(k) + 1 for k in keywords) > MAX_TEXT_CHARS:
        raise RealtimeError(
            f"keywords must add up to at most {MAX_TEXT_CHARS} characters",
            code="invalid_value",
            param=f"{path}.keywords",
        )
    delay = words.get("delay") or DEFAULT_DELAY
    if delay not in DELAYS:
        raise RealtimeError(
            f"delay must be one of {', '.join(DELAYS)}; got {str(delay)[:40]!r}",
            code="invalid_value",
            param=f"{path}.delay",
        )
    return InputTranscription(
        model=model,
        language=_language(words, path, context),
        prompt=_text(words, "prompt", f"{path}.prompt", MAX_TEXT_CHARS),
        keywords=tuple(k.strip() for k in keywords if k.strip()),
        delay=delay,
    )


def _language(words: dict[str, Any], path: str, context: FieldContext) -> str | None:
    """`language` (or GA's one-entry `languages`): a code the loaded model speaks. None lets
    the session's start fill in the server's language or detect it."""
    language = _text(words, "language", f"{path}.language", 16)
    languages = words.get("languages")
    if language is None and isinstance(languages, list) and len(languages) == 1:
        language = languages[0] if isinstance(languages[0], str) else None
    if language is None:
        return None
    try:
        return parse_language(language, "language", context)
    except BadRequest as exc:
        raise RealtimeError(exc.message, code="invalid_value", param=f"{path}.language") from None


def _turn_detection(parent: dict[str, Any], path: str, current: SessionConfig) -> ServerVad | None:
    path = f"{path}.turn_detection"
    vad = _object(parent, "turn_detection", path)
    if vad is None:
        return None
    _known(vad, _TURN_DETECTION_KEYS, path)
    kind = vad.get("type", "server_vad")
    if kind != "server_vad":
        raise RealtimeError(
            f"turn_detection type {str(kind)[:40]!r} is not supported; use server_vad or null "
            "(the client commits)",
            code="invalid_value",
            param=f"{path}.type",
        )
    defaults = current.turn_detection or ServerVad()
    low, high = ENDPOINT_SILENCE_MS
    return ServerVad(
        threshold=_float(vad, "threshold", f"{path}.threshold", *THRESHOLD, defaults.threshold),
        prefix_padding_ms=_int(
            vad, "prefix_padding_ms", f"{path}.prefix_padding_ms", *PREFIX_PADDING_MS,
            defaults.prefix_padding_ms,
        ),
        silence_duration_ms=_int(
            vad, "silence_duration_ms", f"{path}.silence_duration_ms", low, high,
            defaults.silence_duration_ms,
        ),
    )  # fmt: skip


def _noise_reduction(parent: dict[str, Any], path: str) -> str | None:
    noise = _object(parent, path.rsplit(".", 1)[1], path)
    if noise is None:
        return None
    _known(noise, _NOISE_REDUCTION_KEYS, path)
    kind = noise.get("type", "near_field")
    if kind not in NOISE_REDUCTION_TYPES:
        raise RealtimeError(
            f"noise_reduction type must be near_field or far_field; got {str(kind)[:40]!r}",
            code="invalid_value",
            param=f"{path}.type",
        )
    _float(noise, "strength", f"{path}.strength", 0.0, 1.0, 1.0)
    return str(kind)


def _include(session: dict[str, Any]) -> tuple[str, ...]:
    include = session["include"]
    if include is None:
        return ()
    if not isinstance(include, list) or any(v != LOGPROBS for v in include):
        raise RealtimeError(
            f"include must be a list of {LOGPROBS!r}", code="invalid_value", param="session.include"
        )
    return (LOGPROBS,) if include else ()


# --- typed reads ----------------------------------------------------------------------------


def _known(data: dict[str, Any], keys: frozenset[str], path: str) -> None:
    for key in data:
        if key not in keys:
            raise RealtimeError(
                f"unknown parameter: '{path}.{str(key)[:60]}'",
                code="unknown_parameter",
                param=f"{path}.{str(key)[:60]}",
            )


def _object(
    data: dict[str, Any], name: str, path: str, *, required: bool = False
) -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        if required:
            raise RealtimeError(
                f"missing required parameter: '{path}'",
                code="missing_required_parameter",
                param=path,
            )
        return None
    if not isinstance(value, dict):
        raise RealtimeError(f"{path} must be an object", code="invalid_type", param=path)
    return value


def _text(data: dict[str, Any], name: str, path: str, max_chars: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_chars:
        raise RealtimeError(
            f"{path} must be a string of at most {max_chars} characters",
            code="invalid_type" if not isinstance(value, str) else "invalid_value",
            param=path,
        )
    return value


def _int(data: dict[str, Any], name: str, path: str, low: int, high: int, default: int) -> int:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RealtimeError(
            f"{path} must be an integer from {low} to {high}", code="invalid_value", param=path
        )
    return value


def _float(
    data: dict[str, Any], name: str, path: str, low: float, high: float, default: float
) -> float:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise RealtimeError(
            f"{path} must be a number from {low:g} to {high:g}", code="invalid_value", param=path
        )
    return float(value)
