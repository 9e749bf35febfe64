"""The decoding options a client may set, one table for every transport.

Each `OptionField` says what it is (its JSON-schema type and bounds, used by the OpenAPI
document), where it is accepted (`transports`), how a raw value is validated (one parser
for a form field, a query parameter, a JSON member and a stream's start message alike) and
which `TranscribeOptions` field it sets. A new option is one entry in `OPTION_FIELDS`:
every route, the stream protocol and `/openapi.json` follow from it.

Values come as strings (multipart form, query string) or as JSON values (a JSON body, the
stream start message); both forms of a value are accepted everywhere, so `"true"` and `true`,
`"0.2"` and `0.2` mean the same on every transport.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asr_server import errors
from asr_server.config import BEAM_SIZES
from asr_server.languages import LANGUAGE_NAMES
from asr_server.types import TranscribeOptions

OPENAI = "openai"
"""`POST /v1/audio/transcriptions` (form fields)."""
RECOGNIZE = "recognize"
"""`POST /v1/recognize` (query or JSON members) and `/v1/recognize/batch` (query or form)."""
ASRT = "asrt"
"""`POST /all` and `/speech` (JSON members)."""
STREAM = "stream"
"""The `start` message of `GET /v1/stream`."""
TRANSLATIONS = "translations"
"""`POST /v1/audio/translations` (form fields; OpenAI's form takes only prompt and temperature)."""
TRANSPORTS = (OPENAI, RECOGNIZE, ASRT, STREAM, TRANSLATIONS)

MAX_TEXT_CHARS = 2000
"""Longest prompt or hotwords (Whisper keeps the last 223 tokens of a prompt anyway)."""
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class FieldContext:
    """What validation needs from the server: its fixed language and what the model speaks."""

    default_language: str | None = None
    """ASR_LANGUAGE: the language of a request that names none."""
    languages: Callable[[], Sequence[str]] = tuple
    """The loaded model's languages (empty while unknown: any Whisper code is accepted)."""


NO_CONTEXT = FieldContext()
"""Validation without a server: no fixed language, any language Whisper knows."""


def invalid(message: str) -> errors.BadRequest:
    return errors.BadRequest(message, code="invalid_field")


def parse_bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise invalid(f"{name} must be true or false; got {_shown(value)}")


def parse_number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"{name} must be a number; got {_shown(value)}")
    try:
        number = float(value)
    except ValueError:
        raise invalid(f"{name} must be a number; got {_shown(value)}") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise invalid(f"{name} must be between {low:g} and {high:g}; got {_shown(value)}")
    return number


def parse_integer(value: object, name: str, low: int, high: int) -> int:
    """An integer (or its decimal string); 300.0, true and "3e2" are not integers."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(f"{name} must be an integer; got {_shown(value)}")
    text = value.strip() if isinstance(value, str) else str(value)
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise invalid(f"{name} must be an integer; got {_shown(value)}")
    number = int(text)
    if not low <= number <= high:
        raise invalid(f"{name} must be between {low} and {high}; got {number}")
    return number


def parse_text(value: object, name: str, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string; got {_shown(value)}")
    if len(value) > max_chars:
        raise invalid(f"{name} is longer than {max_chars} characters")
    if "\x00" in value:
        raise invalid(f"{name} must not contain NUL characters")
    return value


def parse_language(value: object, name: str, context: FieldContext) -> str | None:
    """An ISO 639-1 code the loaded model speaks (`en-US` means `en`); empty: the server's
    fixed language, else detection (None)."""
    if value is None or value == "":
        return context.default_language
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string; got {_shown(value)}")
    text = value.strip()
    if not _LANGUAGE.match(text):
        raise invalid(f"{name} must be an ISO 639-1 code such as 'en' or 'zh'; got {text[:20]!r}")
    code = text.split("-")[0].lower()
    if code not in LANGUAGE_NAMES:
        raise invalid(f"{name} {code!r} is not a language Whisper knows")
    spoken = tuple(context.languages())
    if spoken and code not in spoken:
        listed = ", ".join(spoken[:12]) + (" ..." if len(spoken) > 12 else "")
        raise invalid(f"{name} {code!r} is not supported by the loaded model (it speaks {listed})")
    return code


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


Parser = Callable[[object, str, FieldContext], Any]


@dataclass(frozen=True)
class OptionField:
    """One decoding option a client may set."""

    name: str
    """Its name on the wire (form field, query parameter, JSON member)."""
    option: str
    """The `TranscribeOptions` field it sets."""
    schema: Mapping[str, Any]
    """Its JSON schema (OpenAPI), string forms aside."""
    doc: str
    parse: Parser
    transports: frozenset[str] = field(default_factory=lambda: frozenset(TRANSPORTS))


def _bool(value: object, name: str, context: FieldContext) -> bool:
    return False if value is None else parse_bool(value, name)


def _text(value: object, name: str, context: FieldContext) -> str | None:
    return parse_text(value, name)


def _beam_size(value: object, name: str, context: FieldContext) -> int | None:
    """None when absent: the data plane applies ASR_BEAM_SIZE."""
    if value is None or value == "":
        return None
    return parse_integer(value, name, *BEAM_SIZES)


def _temperature(value: object, name: str, context: FieldContext) -> float:
    return 0.0 if value is None or value == "" else parse_number(value, name, 0.0, 1.0)


OPTION_FIELDS: tuple[OptionField, ...] = (
    OptionField(
        "language",
        "language",
        {"type": "string", "pattern": _LANGUAGE.pattern, "examples": ["en", "zh"]},
        "ISO 639-1 code of the speech; one the loaded model speaks (default: the server's "
        "ASR_LANGUAGE, else detected).",
        parse_language,
        frozenset({OPENAI, RECOGNIZE, ASRT, STREAM}),
    ),
    OptionField(
        "prompt",
        "prompt",
        {"type": "string", "maxLength": MAX_TEXT_CHARS},
        "Text that steers the decoder (previous text, spellings).",
        _text,
    ),
    OptionField(
        "hotwords",
        "hotwords",
        {"type": "string", "maxLength": MAX_TEXT_CHARS},
        "Words or phrases to favour.",
        _text,
        frozenset({OPENAI, RECOGNIZE, ASRT, STREAM}),
    ),
    OptionField(
        "temperature",
        "temperature",
        {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
        "0 decodes greedily (retrying a failed window with a beam search); above 0 samples.",
        _temperature,
        frozenset({OPENAI, TRANSLATIONS}),
    ),
    OptionField(
        "beam_size",
        "beam_size",
        {"type": "integer", "minimum": BEAM_SIZES[0], "maximum": BEAM_SIZES[1]},
        "Beam width at temperature 0 (1 is greedy; default the server's ASR_BEAM_SIZE). A "
        "stream's finals use it; its partials stay greedy.",
        _beam_size,
        frozenset({OPENAI, RECOGNIZE, STREAM}),
    ),
    OptionField(
        "word_timestamps",
        "word_timestamps",
        {"type": "boolean", "default": False},
        "Also return per-word timings.",
        _bool,
        frozenset({RECOGNIZE}),
    ),
    OptionField(
        "vad_filter",
        "vad_filter",
        {"type": "boolean", "default": False},
        "Drop silence (Silero VAD) before decoding.",
        _bool,
        frozenset({OPENAI, RECOGNIZE}),
    ),
)


def fields_for(transport: str) -> tuple[OptionField, ...]:
    return tuple(f for f in OPTION_FIELDS if transport in f.transports)


def parse_options(
    values: Mapping[str, object],
    transport: str,
    context: FieldContext,
    **overrides: Any,
) -> TranscribeOptions:
    """The options of one request: every field of `transport` validated from `values` (a
    missing one takes its default); `overrides` are options the transport decides itself
    (OpenAI's word timestamps come from `timestamp_granularities[]`). Raises BadRequest
    `invalid_field` naming the field."""
    chosen = {f.option: f.parse(values.get(f.name), f.name, context) for f in fields_for(transport)}
    return dataclasses.replace(TranscribeOptions(), **chosen, **overrides)
