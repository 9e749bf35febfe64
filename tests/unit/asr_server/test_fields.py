"""The one option table: a value means the same on every transport in its text and its JSON
form, bounds and types are refused naming the field, and each transport takes exactly its
options."""

from __future__ import annotations

from typing import Any

import pytest
from asr_server import errors, fields
from asr_server.fields import FieldContext, parse_options
from asr_server.types import TranscribeOptions

NONE = FieldContext()


@pytest.mark.parametrize("transport", fields.TRANSPORTS)
def test_nothing_given_is_the_defaults(transport: str) -> None:
    assert parse_options({}, transport, NONE) == TranscribeOptions()


SAME_MEANING = [
    (fields.RECOGNIZE, {"word_timestamps": "true", "vad_filter": "0"},
     {"word_timestamps": True, "vad_filter": False}),
    (fields.OPENAI, {"temperature": "0.2", "vad_filter": "yes"},
     {"temperature": 0.2, "vad_filter": True}),
    (fields.STREAM, {"language": "en-US", "prompt": "Kennedy"},
     {"language": "en", "prompt": "Kennedy"}),
]  # fmt: skip


@pytest.mark.parametrize(("transport", "text_form", "json_form"), SAME_MEANING)
def test_text_and_json_forms_mean_the_same(
    transport: str, text_form: dict[str, Any], json_form: dict[str, Any]
) -> None:
    assert parse_options(text_form, transport, NONE) == parse_options(json_form, transport, NONE)


@pytest.mark.parametrize(
    ("transport", "values", "named"),
    [
        (fields.OPENAI, {"temperature": "1.5"}, "temperature must be between 0 and 1"),
        (fields.OPENAI, {"temperature": "nan"}, "temperature must be between"),
        (fields.OPENAI, {"temperature": True}, "temperature must be a number"),
        (fields.RECOGNIZE, {"word_timestamps": "maybe"}, "word_timestamps must be true or false"),
        (fields.RECOGNIZE, {"vad_filter": [True]}, "vad_filter must be true or false"),
        (fields.ASRT, {"prompt": 7}, "prompt must be a string"),
        (fields.ASRT, {"hotwords": "h" * 2001}, "hotwords is longer than 2000"),
        (fields.STREAM, {"prompt": "a\x00b"}, "prompt must not contain NUL"),
        (fields.STREAM, {"language": "../../etc/passwd"}, "language must be an ISO 639-1 code"),
        (fields.STREAM, {"language": "qq"}, "not a language Whisper knows"),
    ],
)
def test_bad_values_are_invalid_fields_naming_the_field(
    transport: str, values: dict[str, Any], named: str
) -> None:
    with pytest.raises(errors.BadRequest, match=named) as caught:
        parse_options(values, transport, NONE)
    assert caught.value.code == "invalid_field"


def test_the_loaded_models_languages_and_the_servers_default_apply() -> None:
    english = FieldContext(default_language="en", languages=lambda: ("en",))
    assert parse_options({}, fields.STREAM, english).language == "en"
    with pytest.raises(errors.BadRequest, match="not supported by the loaded model"):
        parse_options({"language": "fr"}, fields.RECOGNIZE, english)


def test_each_transport_reads_only_its_own_options() -> None:
    given = {"temperature": "0.5", "word_timestamps": "true", "vad_filter": "true"}
    assert parse_options(given, fields.ASRT, NONE) == TranscribeOptions()
    assert parse_options(given, fields.OPENAI, NONE) == TranscribeOptions(
        temperature=0.5, vad_filter=True
    )
    assert parse_options(given, fields.RECOGNIZE, NONE) == TranscribeOptions(
        word_timestamps=True, vad_filter=True
    )


def test_every_option_sets_a_transcribe_option_and_has_a_schema() -> None:
    names = {f.name for f in fields.OPTION_FIELDS}
    assert len(names) == len(fields.OPTION_FIELDS)
    for option in fields.OPTION_FIELDS:
        assert hasattr(TranscribeOptions(), option.option), option.name
        assert option.schema.get("type") and option.doc
        assert option.transports <= set(fields.TRANSPORTS)
