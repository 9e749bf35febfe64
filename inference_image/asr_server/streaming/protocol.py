"""The `GET /v1/stream` WebSocket protocol: client messages parsed and validated into
dataclasses, server messages as dataclasses that serialise to the JSON of docs/streaming.md
(docs/architecture.md, "A stream").

Client: `{"type":"start","sample_rate":16000,"language"?,"hotwords"?,"prompt"?,
"interim_results"?,"endpointing_ms"?,"beam_size"?}`, then binary PCM16 little-endian mono
frames, then `{"type":"eof"}`. The decoding options (`language`, `hotwords`, `prompt`,
`beam_size`) are the `fields.STREAM` options, validated by the same code as the HTTP routes'
(a language must be one the loaded model speaks; `beam_size` within config.BEAM_SIZES, default
ASR_BEAM_SIZE, for the finals: partials are always greedy). `endpointing_ms` is the silence
that ends an utterance for this stream (an integer within config.ENDPOINT_SILENCE_MS; default
the server's ASR_STREAM_ENDPOINT_SILENCE_MS). Server: ready, partial, final, error, busy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from asr_server import errors, fields
from asr_server.config import ENDPOINT_SILENCE_MS
from asr_server.types import TranscribeOptions

SUPPORTED_SAMPLE_RATE = 16_000
"""The only PCM rate accepted: resampling is the client's job (the CLI client does it)."""


class ProtocolError(Exception):
    """A client message the server cannot accept; `code` is sent in the error message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StartMessage:
    sample_rate: int = SUPPORTED_SAMPLE_RATE
    options: TranscribeOptions = field(default_factory=TranscribeOptions)
    """The stream's decoding options (fields.STREAM), the server's language filled in."""
    interim_results: bool = True
    endpointing_ms: int | None = None
    """Silence that ends an utterance of this stream; None: the server's setting."""


@dataclass(frozen=True)
class EofMessage:
    pass


ClientMessage = StartMessage | EofMessage


def parse_client_text(text: str, context: fields.FieldContext = fields.NO_CONTEXT) -> ClientMessage:
    """Parse one text frame from the client, or raise ProtocolError."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("invalid_json", "text frames must be JSON objects") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_json", "text frames must be JSON objects")
    kind = data.get("type")
    if kind == "eof":
        return EofMessage()
    if kind == "start":
        return _parse_start(data, context)
    raise ProtocolError("unknown_type", f"unknown message type {kind!r}; expected start or eof")


def _parse_start(data: dict[str, Any], context: fields.FieldContext) -> StartMessage:
    rate = data.get("sample_rate", SUPPORTED_SAMPLE_RATE)
    if not isinstance(rate, int) or isinstance(rate, bool):
        raise ProtocolError("invalid_field", "sample_rate must be an integer")
    if rate != SUPPORTED_SAMPLE_RATE:
        raise ProtocolError(
            "unsupported_sample_rate",
            f"sample_rate {rate} is not supported; send 16000 Hz PCM16 mono",
        )
    interim = data.get("interim_results", True)
    if not isinstance(interim, bool):
        raise ProtocolError("invalid_field", "interim_results must be true or false")
    try:
        options = fields.parse_options(data, fields.STREAM, context)
    except errors.BadRequest as exc:
        raise ProtocolError(exc.code, exc.message) from None
    return StartMessage(
        sample_rate=rate,
        options=options,
        interim_results=interim,
        endpointing_ms=_optional_endpointing(data),
    )


def _optional_endpointing(data: dict[str, Any]) -> int | None:
    value = data.get("endpointing_ms")
    if value is None:
        return None
    low, high = ENDPOINT_SILENCE_MS
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(
            "invalid_field", f"endpointing_ms must be an integer from {low} to {high}"
        )
    return value


@dataclass(frozen=True)
class ServerMessage:
    type: ClassVar[str] = ""

    def to_json(self) -> str:
        return json.dumps({"type": self.type, **asdict(self)}, ensure_ascii=False)


@dataclass(frozen=True)
class Ready(ServerMessage):
    type: ClassVar[str] = "ready"


@dataclass(frozen=True)
class Partial(ServerMessage):
    type: ClassVar[str] = "partial"
    text: str
    segment_id: int
    start: float
    end: float


@dataclass(frozen=True)
class Final(ServerMessage):
    type: ClassVar[str] = "final"
    text: str
    segment_id: int
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Error(ServerMessage):
    type: ClassVar[str] = "error"
    code: str
    message: str


@dataclass(frozen=True)
class Busy(ServerMessage):
    type: ClassVar[str] = "busy"
    retry_after: float
