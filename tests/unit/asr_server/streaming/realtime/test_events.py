"""Client events parsed once: the session configuration they produce, and the error named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asr_server.fields import FieldContext
from asr_server.streaming.realtime.config import ServerVad, SessionConfig
from asr_server.streaming.realtime.events import (
    AppendAudio,
    RealtimeError,
    SessionUpdate,
    parse_client_event,
)

DEFAULTS = SessionConfig()


def update(event: dict[str, Any], current: SessionConfig = DEFAULTS) -> SessionConfig:
    parsed = parse_client_event(json.dumps(event), current)
    assert isinstance(parsed, SessionUpdate)
    return parsed.config


def refused(event: dict[str, Any] | str) -> RealtimeError:
    text = event if isinstance(event, str) else json.dumps(event)
    with pytest.raises(RealtimeError) as caught:
        parse_client_event(text, DEFAULTS)
    return caught.value


def test_a_ga_update_sets_rate_language_keywords_and_turn_detection() -> None:
    config = update(
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 16000},
                        "transcription": {"model": "x", "language": "en-US", "keywords": ["Ask"]},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                    }
                },
            },
        }
    )
    assert config.input_rate == 16000
    assert config.transcription.language == "en" and config.transcription.keywords == ("Ask",)
    assert config.turn_detection == ServerVad(silence_duration_ms=300)
    assert config.start_message(None).options.hotwords == "Ask"


def test_a_beta_update_keeps_what_it_does_not_name() -> None:
    current = update({"type": "transcription_session.update", "session": {"turn_detection": None}})
    assert current.turn_detection is None
    later = update(
        {
            "type": "transcription_session.update",
            "session": {"input_audio_transcription": {"prompt": "Kennedy"}},
        },
        current,
    )
    assert later.turn_detection is None and later.transcription.prompt == "Kennedy"


def test_without_turn_detection_no_pause_ends_an_utterance() -> None:
    from asr_server.streaming.utterance import StreamSettings

    settings = SessionConfig(turn_detection=None).stream_settings(StreamSettings())
    assert settings.endpoint.min_silence_s == float("inf") and not settings.early_finals


def test_append_decodes_base64() -> None:
    event = parse_client_event('{"type": "input_audio_buffer.append", "audio": "AAE="}', DEFAULTS)
    assert event == AppendAudio(b"\x00\x01")


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ("{", "invalid_json", None),
        ({"type": "response.create"}, "unsupported_event", "type"),
        ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio"),
        ({"type": "session.update"}, "missing_required_parameter", "session"),
        (
            {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
                "format": {"type": "audio/pcm", "rate": 96000}}}}},
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        (
            {"type": "transcription_session.update",
             "session": {"input_audio_format": "g711_ulaw"}},
            "invalid_value",
            "session.input_audio_format",
        ),
        (
            {"type": "transcription_session.update",
             "session": {"turn_detection": {"threshold": True}}},
            "invalid_value",
            "session.turn_detection.threshold",
        ),
        (
            {"type": "transcription_session.update", "session": {"include": ["x"]}},
            "invalid_value",
            "session.include",
        ),
        (
            {"type": "transcription_session.update",
             "session": {"input_audio_transcription": None}},
            "invalid_value",
            "session.input_audio_transcription",
        ),
    ],
)  # fmt: skip
def test_bad_events_name_their_field(event: dict[str, Any] | str, code: str, param: str) -> None:
    error = refused(event)
    assert (error.code, error.param) == (code, param), error.message
    assert error.message


def test_the_language_is_one_the_loaded_model_speaks() -> None:
    english_only = FieldContext(None, lambda: ("en",))
    session = {"input_audio_transcription": {"language": "zh"}}
    event = json.dumps({"type": "transcription_session.update", "session": session})
    assert update(json.loads(event)).transcription.language == "zh"  # any model: any code
    with pytest.raises(RealtimeError) as caught:
        parse_client_event(event, DEFAULTS, english_only)
    assert caught.value.param == "session.input_audio_transcription.language"
    assert "not supported by the loaded model (it speaks en)" in str(caught.value)
    languages = {
        "type": "transcription",
        "audio": {"input": {"transcription": {"languages": ["en-GB"]}}},
    }
    english = parse_client_event(
        json.dumps({"type": "session.update", "session": languages}), DEFAULTS, english_only
    )
    assert isinstance(english, SessionUpdate) and english.config.transcription.language == "en"
