"""Client messages of the stream protocol: the start message's fields and their errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asr_server.streaming.protocol import (
    EofMessage,
    ProtocolError,
    StartMessage,
    parse_client_text,
)


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
        language="en", interim_results=False, endpointing_ms=300, beam_size=5
    )


INTEGER_FIELDS = {"endpointing_ms": (100, 5000), "beam_size": (1, 10)}
"""The start message's integer fields and their bounds (config.ENDPOINT_SILENCE_MS,
config.BEAM_SIZES)."""


@pytest.mark.parametrize(
    ("name", "value"), [(name, v) for name, bounds in INTEGER_FIELDS.items() for v in bounds]
)
def test_integer_bounds_are_accepted(name: str, value: int) -> None:
    message = parse_client_text(start(**{name: value}))
    assert isinstance(message, StartMessage) and getattr(message, name) == value


@pytest.mark.parametrize("name", INTEGER_FIELDS)
def test_an_integer_field_null_is_the_servers_setting(name: str) -> None:
    assert parse_client_text(start(**{name: None})) == StartMessage()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (name, value)
        for name, (low, high) in INTEGER_FIELDS.items()
        for value in [low - 1, high + 1, -300, low + 0.5, float(low), str(low), True, [low]]
    ],
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
    ],
)
def test_bad_messages_name_their_error(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_text(text)
    assert caught.value.code == code
