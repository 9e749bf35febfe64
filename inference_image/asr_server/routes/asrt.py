"""ASRT-compatible HTTP API (nl8590687/ASRT_SpeechRecognition `asrserver_http.py`).

`POST /all` -> recognised text; `POST /speech` -> the text's pinyin syllables (ASRT's
acoustic-model level answers a list such as `["ni3", "hao3"]`). Request JSON:
`{"samples": urlsafe-base64 PCM, "sample_rate", "channels", "byte_width"}` (plus our optional
`language`, `prompt`, `hotwords`). Responses keep ASRT's shape
`{"status_code", "status_message", "result"}`; errors also carry the standard `error` object and
the proper HTTP status. Status codes are ASRT's own:

  200000 ok · 400000 client error (bad or missing field, auth, size) · 400001 bad audio
  format (empty, undecodable, too long) · 400002 unsupported audio configuration
  (byte_width other than 2) · 500000 server error · 500001 server busy or not running
  (queue full, not ready, draining, timeout).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from asr_server import errors, fields
from asr_server.routes.body import read_json_object
from asr_server.routes.common import b64decode, decode_pcm16, options, pcm_shape, recognize
from asr_server.text import to_pinyin

OK = 200000
CLIENT_ERROR = 400000
CLIENT_ERROR_FORMAT = 400001
CLIENT_ERROR_CONFIG = 400002
SERVER_ERROR = 500000
SERVER_ERROR_RUNNING = 500001


class UnsupportedAudioConfig(errors.BadRequest):
    code = "unsupported_audio_config"


def setup(app: web.Application) -> None:
    app.router.add_post("/all", recognize_all)
    app.router.add_post("/speech", recognize_speech)


def asrt_status(exc: errors.ASRError) -> int:
    if isinstance(exc, UnsupportedAudioConfig):
        return CLIENT_ERROR_CONFIG
    if isinstance(exc, errors.BadAudio):
        return CLIENT_ERROR_FORMAT
    status = errors.http_status(exc)
    if status in (429, 503, 504):
        return SERVER_ERROR_RUNNING
    return CLIENT_ERROR if status < 500 else SERVER_ERROR


def _response(status_code: int, message: str, result: Any, http_status: int = 200) -> web.Response:
    return web.json_response(
        {"status_code": status_code, "status_message": message, "result": result},
        status=http_status,
    )


def _error_response(exc: errors.ASRError) -> web.Response:
    asrt = {"status_code": asrt_status(exc), "status_message": exc.message, "result": ""}
    return errors.error_response(exc, extra=asrt)


async def _recognize_text(request: web.Request) -> str:
    if request.content_type != "application/json":
        raise errors.UnsupportedMediaType("ASRT API expects application/json")
    body = await read_json_object(request)
    samples = body.get("samples")
    if not isinstance(samples, str):
        raise fields.invalid("samples is required: urlsafe-base64 PCM")
    rate, channels = pcm_shape(body)
    byte_width = fields.parse_integer(body.get("byte_width", 2), "byte_width", 1, 8)
    if byte_width != 2:
        raise UnsupportedAudioConfig(f"byte_width {byte_width} is not supported; send 16-bit PCM")
    chosen = options(request, body, fields.ASRT)
    pcm = await b64decode(samples, "samples", urlsafe=True)
    audio = await decode_pcm16(request, pcm, rate, channels)
    result = await recognize(request, audio, chosen)
    return result.text.strip()


async def recognize_all(request: web.Request) -> web.Response:
    try:
        text = await _recognize_text(request)
    except errors.ClientGone:
        raise
    except errors.ASRError as exc:
        return _error_response(exc)
    return _response(OK, "all level", text)


async def recognize_speech(request: web.Request) -> web.Response:
    try:
        text = await _recognize_text(request)
    except errors.ClientGone:
        raise
    except errors.ASRError as exc:
        return _error_response(exc)
    pinyin = to_pinyin(text)
    syllables = pinyin.split() if isinstance(pinyin, str) else list(pinyin)
    return _response(OK, "speech level", syllables)
