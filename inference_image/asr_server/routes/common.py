"""What every recognition route shares: its options validated by the one table
(`asr_server.fields`), base64 fields, and the data plane (decode, cache, schedule, account)
reached through the app. Bodies are read by `routes/body.py`."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from asr_server import errors, fields
from asr_server.keys import DATAPLANE, FIELDS, USAGE
from asr_server.types import Audio, TranscribeOptions, Transcription


def options(
    request: web.Request, values: Mapping[str, object], transport: str, **overrides: Any
) -> TranscribeOptions:
    """The request's decoding options for `transport` (fields.parse_options)."""
    return fields.parse_options(values, transport, request.app[FIELDS], **overrides)


async def b64decode(text: str, field: str, *, urlsafe: bool = False) -> bytes:
    """Base64 (standard or urlsafe) in a thread; 400 naming the field when invalid."""
    try:
        if urlsafe:
            return await asyncio.to_thread(base64.urlsafe_b64decode, text)
        return await asyncio.to_thread(base64.b64decode, text, validate=True)
    except (binascii.Error, ValueError):
        kind = "urlsafe base64" if urlsafe else "base64"
        raise errors.BadRequest(f"{field} is not valid {kind}", code="invalid_field") from None


def pcm_shape(body: Mapping[str, object]) -> tuple[int, int]:
    """`sample_rate` and `channels` of a raw PCM body (defaults 16000 Hz, mono)."""
    rate = fields.parse_integer(body.get("sample_rate", 16000), "sample_rate", 1000, 192000)
    channels = fields.parse_integer(body.get("channels", 1), "channels", 1, 8)
    return rate, channels


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
