"""OpenAI-compatible `POST /v1/audio/transcriptions` (multipart/form-data).

Fields: file (required), model (any: `whisper-1`, OpenAI's name for its speech model, or any
other name means the loaded model), language, prompt,
response_format (json|text|srt|vtt|verbose_json), temperature (0..1),
timestamp_granularities[] (segment|word); extras hotwords, vad_filter.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from asr_server import errors, formats
from asr_server.routes.common import (
    bool_field,
    decode_container,
    float_field,
    language_field,
    recognize,
    text_field,
)
from asr_server.types import TranscribeOptions

MODEL_ALIAS = "whisper-1"
"""What OpenAI's clients send as `model`; `/v1/models` lists the loaded model under it too."""
RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/audio/transcriptions", transcriptions)


def _string(form: Form, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, web.FileField):
        raise errors.BadRequest(f"{name} must be a form field, not a file", code="invalid_field")
    return bytes(value).decode() if isinstance(value, bytes | bytearray) else value


async def read_form(request: web.Request) -> Form:
    if request.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise errors.UnsupportedMediaType(
            f"expected multipart/form-data, got {request.content_type or 'no content type'}"
        )
    return await request.post()


def parse_options(request: web.Request, form: Form) -> tuple[TranscribeOptions, str]:
    response_format = _string(form, "response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise errors.BadRequest(
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}; "
            f"got {response_format!r}",
            code="invalid_field",
        )
    granularities = [
        str(v)
        for key in ("timestamp_granularities[]", "timestamp_granularities")
        for v in form.getall(key, [])
    ]
    for granularity in granularities:
        if granularity not in GRANULARITIES:
            raise errors.BadRequest(
                f"timestamp_granularities[] must be segment or word; got {granularity!r}",
                code="invalid_field",
            )
    options = TranscribeOptions(
        language=language_field(request, _string(form, "language")),
        prompt=text_field(_string(form, "prompt"), "prompt"),
        hotwords=text_field(_string(form, "hotwords"), "hotwords"),
        temperature=float_field(_string(form, "temperature"), "temperature", 0.0, 1.0, 0.0),
        word_timestamps="word" in granularities,
        vad_filter=bool_field(_string(form, "vad_filter"), "vad_filter"),
    )
    return options, response_format


async def transcriptions(request: web.Request) -> web.Response:
    form = await read_form(request)
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise errors.BadRequest("file is required (a multipart file field)", code="invalid_field")
    options, response_format = parse_options(request, form)
    audio = await decode_container(request, upload.file.read())
    result = await recognize(request, audio, options)
    if response_format == "json":
        return web.json_response(formats.to_openai_json(result))
    if response_format == "verbose_json":
        return web.json_response(formats.to_verbose_json(result))
    renderers = {"text": formats.to_text, "srt": formats.to_srt, "vtt": formats.to_vtt}
    return web.Response(text=renderers[response_format](result), content_type="text/plain")
