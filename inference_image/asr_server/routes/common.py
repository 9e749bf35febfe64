"""What every recognition route shares: the request's fields parsed and validated, and the
data plane (decode, cache, schedule, account) reached through the app."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from typing import Any

from aiohttp import web

from asr_server import errors
from asr_server.config import BEAM_SIZES
from asr_server.keys import CONFIG, DATAPLANE, USAGE
from asr_server.types import Audio, TranscribeOptions, Transcription

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, parsed in a thread (bodies of base64 audio run to MBs)."""
    raw = await request.read()
    try:
        body = await asyncio.to_thread(json.loads, raw)
    except ValueError:
        raise errors.BadRequest("body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise errors.BadRequest("JSON body must be an object", code="invalid_json")
    return body


async def b64decode(text: str, field: str, *, urlsafe: bool = False) -> bytes:
    """Base64 (standard or urlsafe) in a thread; 400 naming the field when invalid."""
    try:
        if urlsafe:
            return await asyncio.to_thread(base64.urlsafe_b64decode, text)
        return await asyncio.to_thread(base64.b64decode, text, validate=True)
    except (binascii.Error, ValueError):
        kind = "urlsafe base64" if urlsafe else "base64"
        raise errors.BadRequest(f"{field} is not valid {kind}", code="invalid_field") from None


async def decode_container(request: web.Request, data: bytes) -> Audio:
    """Any container PyAV reads -> 16 kHz mono float32 (DataPlane.decode; raises BadAudio)."""
    return await request.app[DATAPLANE].decode(data)


async def decode_pcm16(request: web.Request, data: bytes, sample_rate: int, channels: int) -> Audio:
    return await request.app[DATAPLANE].decode_pcm16(data, sample_rate, channels)


async def recognize(
    request: web.Request, audio: Audio, options: TranscribeOptions
) -> Transcription:
    """The data plane's result (cached or scheduled), added to the request's usage."""
    return await request.app[DATAPLANE].transcribe(audio, options, usage=request[USAGE])


def language_field(request: web.Request, value: str | None, field: str = "language") -> str | None:
    """A request's language (validated), else the server's fixed language, else None."""
    if value is None or value == "":
        return request.app[CONFIG].language
    value = value.strip()
    if not _LANGUAGE.match(value):
        raise errors.BadRequest(
            f"{field} must be an ISO 639-1 code such as 'en' or 'zh'; got {value[:20]!r}",
            code="invalid_field",
        )
    return value.split("-")[0].lower()


def beam_size_field(value: object) -> int | None:
    """A request's beam width: an integer within config.BEAM_SIZES (a JSON number, or the text
    of a query or form field); None when absent (the data plane applies ASR_BEAM_SIZE)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise errors.BadRequest(
            f"beam_size must be an integer; got {value!r}", code="invalid_field"
        )
    return int_field(value.strip() if isinstance(value, str) else value, "beam_size", *BEAM_SIZES)


def bool_field(value: str | None, field: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise errors.BadRequest(f"{field} must be true or false; got {value!r}", code="invalid_field")


def float_field(value: str | None, field: str, low: float, high: float, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise errors.BadRequest(
            f"{field} must be a number; got {value!r}", code="invalid_field"
        ) from None
    if not low <= number <= high:
        raise errors.BadRequest(
            f"{field} must be between {low:g} and {high:g}; got {number:g}", code="invalid_field"
        )
    return number


def int_field(value: object, field: str, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise errors.BadRequest(
            f"{field} must be an integer; got {value!r}", code="invalid_field"
        ) from None
    if not low <= number <= high:
        raise errors.BadRequest(
            f"{field} must be between {low} and {high}; got {number}", code="invalid_field"
        )
    return number


def text_field(value: object, field: str, max_chars: int = 2000) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.BadRequest(f"{field} must be a string", code="invalid_field")
    if len(value) > max_chars:
        raise errors.BadRequest(
            f"{field} is longer than {max_chars} characters", code="invalid_field"
        )
    return value
