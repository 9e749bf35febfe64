"""Client messages of the stream protocol: the start message's fields and their errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asr_server.fields import FieldContext
from asr_server.streaming.protocol import (
    EofMessage,
    ProtocolError,
    StartMessage,
    parse_client_text,
)
from asr_server.types import TranscribeOptions


def start(**fields: Any) -> str:
    return json.dumps({"type": "start", **fields})


def test_a_bare_start_takes_the_defaults() -> None:
    assert parse_client_text(start()) == StartMessage()
    assert parse_client_text('{"type": "eof"}') == EofMessage()


def test_start_fields_are_parsed() -> None:
    message = parse_client_text(
        start(
            sample_rate=16000,
            language="en",
            interim_results=False,
            endpointing_ms=300,
            beam_size=5,
        )
    )
    assert message == StartMessage(
        options=TranscribeOptions(language="en", beam_size=5),
        interim_results=False,
        endpointing_ms=300,
    )


def test_endpointing_ms_and_beam_size_bounds_are_accepted() -> None:
    for value in (100, 5000):
        message = parse_client_text(start(endpointing_ms=value))
        assert isinstance(message, StartMessage) and message.endpointing_ms == value
    for value in (1, 10):  # config.BEAM_SIZES; "5" too: the same parser as the HTTP routes'
        message = parse_client_text(start(beam_size=value))
        assert isinstance(message, StartMessage) and message.options.beam_size == value
    message = parse_client_text(start(beam_size="5"))
    assert isinstance(message, StartMessage) and message.options.beam_size == 5


@pytest.mark.parametrize("name", ["endpointing_ms", "beam_size"])
def test_an_integer_field_null_is_the_servers_setting(name: str) -> None:
    assert parse_client_text(start(**{name: None})) == StartMessage()


@pytest.mark.parametrize(
    ("name", "value"),
    [("endpointing_ms", v) for v in [99, 5001, 0, -300, 300.5, 300.0, "300", True, [300]]]
    + [("beam_size", v) for v in [0, 11, -3, 1.5, 1.0, "1.0", True, [1]]],
)
def test_a_bad_integer_field_is_an_invalid_field(name: str, value: Any) -> None:
    with pytest.raises(ProtocolError, match=name) as caught:
        parse_client_text(start(**{name: value}))
    assert caught.value.code == "invalid_field"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ('{"type": "stop"}', "unknown_type"),
        (start(sample_rate=44100), "unsupported_sample_rate"),
        (start(interim_results="yes"), "invalid_field"),
        (start(language="x" * 17), "invalid_field"),
        (start(language="../../etc/passwd"), "invalid_field"),
        (start(language="xx"), "invalid_field"),
        (start(prompt=["not", "text"]), "invalid_field"),
        (start(hotwords="h" * 2001), "invalid_field"),
    ],
)
def test_bad_messages_name_their_error(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_text(text)
    assert caught.value.code == code


ENGLISH_ONLY = FieldContext(default_language=None, languages=lambda: ("en",))


def test_a_language_the_model_does_not_speak_is_refused_before_ready() -> None:
    with pytest.raises(ProtocolError, match="not supported by the loaded model") as caught:
        parse_client_text(start(language="fr"), ENGLISH_ONLY)
    assert caught.value.code == "invalid_field"
    message = parse_client_text(start(language="en-US"), ENGLISH_ONLY)
    assert isinstance(message, StartMessage) and message.options.language == "en"


def test_the_servers_language_fills_a_start_without_one() -> None:
    message = parse_client_text(start(), FieldContext(default_language="zh"))
    assert isinstance(message, StartMessage) and message.options.language == "zh"
