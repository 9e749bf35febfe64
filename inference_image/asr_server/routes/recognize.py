"""`POST /v1/recognize` (raw audio body or JSON base64) and `POST /v1/recognize/batch`.

Options come from the query string (`language`, `prompt`, `hotwords`, `word_timestamps`,
`vad_filter`, `beam_size`) or, for JSON bodies, from the same keys in the body (for the batch
route, from the query or the multipart form's text fields).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from asr_server import errors, formats
from asr_server.routes.common import (
    b64decode,
    beam_size_field,
    bool_field,
    decode_container,
    decode_pcm16,
    int_field,
    language_field,
    read_json_object,
    recognize,
    text_field,
)
from asr_server.types import Audio, TranscribeOptions

PCM_FORMATS = frozenset({"pcm16", "s16le"})
_RAW_TYPES = frozenset(
    # curl --data-binary sends application/x-www-form-urlencoded unless told otherwise
    {"", "application/octet-stream", "application/ogg", "application/x-www-form-urlencoded"}
)


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/recognize", recognize_one)
    app.router.add_post("/v1/recognize/batch", recognize_batch)


def _options(request: web.Request, values: Mapping[str, Any]) -> TranscribeOptions:
    def flag(name: str) -> bool:
        value = values.get(name)
        return value if isinstance(value, bool) else bool_field(value, name)

    language = values.get("language")
    if language is not None and not isinstance(language, str):
        raise errors.BadRequest("language must be a string", code="invalid_field")
    return TranscribeOptions(
        language=language_field(request, language),
        prompt=text_field(values.get("prompt"), "prompt"),
        hotwords=text_field(values.get("hotwords"), "hotwords"),
        word_timestamps=flag("word_timestamps"),
        vad_filter=flag("vad_filter"),
        beam_size=beam_size_field(values.get("beam_size")),
    )


async def _json_audio(request: web.Request, body: dict[str, Any]) -> Audio:
    encoded = body.get("audio")
    if not isinstance(encoded, str) or not encoded:
        raise errors.BadRequest(
            "audio is required: base64-encoded audio bytes", code="invalid_field"
        )
    data = await b64decode(encoded, "audio")
    audio_format = body.get("format")
    if audio_format is not None and not isinstance(audio_format, str):
        raise errors.BadRequest("format must be a string", code="invalid_field")
    if audio_format and audio_format.lower() in PCM_FORMATS:
        rate = int_field(body.get("sample_rate", 16000), "sample_rate", 1000, 192000)
        channels = int_field(body.get("channels", 1), "channels", 1, 8)
        audio = await decode_pcm16(request, data, rate, channels)
    else:
        audio = await decode_container(request, data)
    return audio


async def recognize_one(request: web.Request) -> web.Response:
    content_type = request.content_type
    if content_type == "application/json":
        body = await read_json_object(request)
        options = _options(request, {**request.query, **body})  # refused before decoding
        audio = await _json_audio(request, body)
    elif content_type in _RAW_TYPES or content_type.startswith(("audio/", "video/")):
        options = _options(request, request.query)
        audio = await decode_container(request, await request.read())
    else:
        raise errors.UnsupportedMediaType(
            f"unsupported content type {content_type}: send raw audio (audio/*, "
            "application/octet-stream) or application/json; multipart goes to /v1/recognize/batch"
        )
    result = await recognize(request, audio, options)
    return web.json_response(formats.to_recognize_json(result))


async def recognize_batch(request: web.Request) -> web.Response:
    """Every file part of a multipart body, recognised concurrently; a list in request order,
    each a result or `{"file", "error"}` (one bad file never fails the others)."""
    if request.content_type != "multipart/form-data":
        raise errors.UnsupportedMediaType("expected multipart/form-data with one or more files")
    form = await request.post()
    options = _options(
        request, {k: v for k, v in {**request.query, **form}.items() if isinstance(v, str)}
    )
    uploads = [value for value in form.values() if isinstance(value, web.FileField)]
    if not uploads:
        raise errors.BadRequest("no files in the request: send one or more file parts")

    async def one(upload: web.FileField) -> dict[str, Any]:
        try:
            audio = await decode_container(request, upload.file.read())
            result = await recognize(request, audio, options)
        except errors.ASRError as exc:
            return {"file": upload.filename, **errors.error_body(exc)}
        return {"file": upload.filename, **formats.to_recognize_json(result)}

    results = await asyncio.gather(*(one(upload) for upload in uploads))
    return web.json_response(list(results))
