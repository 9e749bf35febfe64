"""`POST /v1/recognize` (raw audio body or JSON base64) and `POST /v1/recognize/batch`.

Options (`fields.RECOGNIZE`: `language`, `prompt`, `hotwords`, `beam_size`,
`word_timestamps`, `vad_filter`) come from the query string or, for JSON bodies, from the same
keys in the body (the body wins), and for a batch from the query string or the form's text
fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from asr_server import errors, fields, formats
from asr_server.routes.body import Upload, read_bytes, read_form, read_json_object
from asr_server.routes.common import (
    b64decode,
    decode_container,
    decode_pcm16,
    options,
    pcm_shape,
    recognize,
)
from asr_server.types import Audio, TranscribeOptions

PCM_FORMATS = frozenset({"pcm16", "s16le"})
RAW_TYPES = frozenset(
    # curl --data-binary sends application/x-www-form-urlencoded unless told otherwise
    {"", "application/octet-stream", "application/ogg", "application/x-www-form-urlencoded"}
)
RAW_PREFIXES = ("audio/", "video/")


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/recognize", recognize_one)
    app.router.add_post("/v1/recognize/batch", recognize_batch)


def _query_and(request: web.Request, values: Mapping[str, object]) -> TranscribeOptions:
    """The options of the query string and `values` (the body's, which win); a bad query value
    is refused even where the body sets the same option."""
    options(request, request.query, fields.RECOGNIZE)
    return options(request, {**request.query, **values}, fields.RECOGNIZE)


async def _json_audio(request: web.Request, body: dict[str, Any]) -> Audio:
    encoded = body.get("audio")
    if not isinstance(encoded, str) or not encoded:
        raise fields.invalid("audio is required: base64-encoded audio bytes")
    audio_format = body.get("format")
    if audio_format is not None and not isinstance(audio_format, str):
        raise fields.invalid("format must be a string")
    pcm = bool(audio_format) and str(audio_format).lower() in PCM_FORMATS
    shape = pcm_shape(body) if pcm else None
    data = await b64decode(encoded, "audio")
    if shape is not None:
        return await decode_pcm16(request, data, *shape)
    return await decode_container(request, data)


async def recognize_one(request: web.Request) -> web.Response:
    content_type = request.content_type
    if content_type == "application/json":
        body = await read_json_object(request)
        chosen = _query_and(request, body)
        audio = await _json_audio(request, body)
    elif content_type in RAW_TYPES or content_type.startswith(RAW_PREFIXES):
        chosen = options(request, request.query, fields.RECOGNIZE)
        audio = await decode_container(request, await read_bytes(request))
    else:
        raise errors.UnsupportedMediaType(
            f"unsupported content type {content_type[:60]}: send raw audio (audio/*, "
            "application/octet-stream) or application/json; multipart goes to /v1/recognize/batch"
        )
    result = await recognize(request, audio, chosen)
    return web.json_response(formats.to_recognize_json(result))


async def recognize_batch(request: web.Request) -> web.Response:
    """Every file part of a multipart body, recognised concurrently; a list in request order,
    each a result or `{"file", "error"}` (one bad file never fails the others)."""
    if request.content_type != "multipart/form-data":
        raise errors.UnsupportedMediaType("expected multipart/form-data with one or more files")
    form = await read_form(request)
    texts = {k: v for k, v in form.items() if isinstance(v, str)}
    chosen = _query_and(request, texts)
    uploads = [value for value in form.values() if isinstance(value, Upload)]
    if not uploads:
        raise errors.BadRequest("no files in the request: send one or more file parts")

    async def one(upload: Upload) -> dict[str, Any]:
        try:
            audio = await decode_container(request, upload.data)
            result = await recognize(request, audio, chosen)
        except errors.ClientGone:
            raise
        except errors.ASRError as exc:
            return {"file": upload.filename, **errors.error_body(exc)}
        return {"file": upload.filename, **formats.to_recognize_json(result)}

    results = await asyncio.gather(*(one(upload) for upload in uploads))
    return web.json_response(list(results))
