"""OpenAI-compatible `POST /v1/audio/transcriptions` and `POST /v1/audio/translations`
(multipart/form-data).

Transcriptions: file (required), model (any: `whisper-1`, OpenAI's name for its speech model,
or any other name means the loaded model), language, prompt,
response_format (json|text|srt|vtt|verbose_json), temperature (0..1),
timestamp_granularities[] (segment|word); extras hotwords, vad_filter, beam_size (within
config.BEAM_SIZES; default ASR_BEAM_SIZE).

Translations (speech in any language -> English text, Whisper's translate task): file, model,
prompt, response_format, temperature, as OpenAI's form. A model that cannot translate (an
English-only Whisper model, `*.en`; the engine says so in `EngineInfo.tasks`) is a 400
`translation_unsupported`.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from asr_server import errors, formats
from asr_server.keys import DATAPLANE, ENGINE
from asr_server.routes.common import (
    beam_size_field,
    bool_field,
    decode_container,
    float_field,
    language_field,
    recognize,
    text_field,
)
from asr_server.types import TranscribeOptions, Transcription

MODEL_ALIAS = "whisper-1"
"""What OpenAI's clients send as `model`; `/v1/models` lists the loaded model under it too."""
RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")
TRANSLATE = "translate"

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_post("/v1/audio/translations", translations)


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


def _upload(form: Form) -> web.FileField:
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise errors.BadRequest("file is required (a multipart file field)", code="invalid_field")
    return upload


def _response_format(form: Form) -> str:
    response_format = _string(form, "response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise errors.BadRequest(
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}; "
            f"got {response_format!r}",
            code="invalid_field",
        )
    return response_format


def _temperature(form: Form) -> float:
    return float_field(_string(form, "temperature"), "temperature", 0.0, 1.0, 0.0)


def parse_options(request: web.Request, form: Form) -> tuple[TranscribeOptions, str]:
    response_format = _response_format(form)
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
        temperature=_temperature(form),
        beam_size=beam_size_field(_string(form, "beam_size")),
        word_timestamps="word" in granularities,
        vad_filter=bool_field(_string(form, "vad_filter"), "vad_filter"),
    )
    return options, response_format


def _render(result: Transcription, response_format: str, task: str) -> web.Response:
    if response_format == "json":
        return web.json_response(formats.to_openai_json(result))
    if response_format == "verbose_json":
        return web.json_response(formats.to_verbose_json(result, task=task))
    renderers = {"text": formats.to_text, "srt": formats.to_srt, "vtt": formats.to_vtt}
    return web.Response(text=renderers[response_format](result), content_type="text/plain")


async def transcriptions(request: web.Request) -> web.Response:
    form = await read_form(request)
    upload = _upload(form)
    options, response_format = parse_options(request, form)
    audio = await decode_container(request, upload.file.read())
    result = await recognize(request, audio, options)
    return _render(result, response_format, options.task)


async def translations(request: web.Request) -> web.Response:
    form = await read_form(request)
    upload = _upload(form)
    response_format = _response_format(form)
    options = TranscribeOptions(
        language=language_field(request, None),  # the server's ASR_LANGUAGE, else detected
        task=TRANSLATE,
        prompt=text_field(_string(form, "prompt"), "prompt"),
        temperature=_temperature(form),
    )
    request.app[DATAPLANE].refuse_early()  # not ready: 503 before saying what it cannot do
    info = request.app[ENGINE].info
    if TRANSLATE not in info.tasks:
        raise errors.BadRequest(
            f"the loaded model {info.name!r} cannot translate: it performs only "
            f"{', '.join(info.tasks)} (English-only models, such as Whisper's *.en, have no "
            "translate task); /v1/audio/translations needs a multilingual model",
            code="translation_unsupported",
        )
    audio = await decode_container(request, upload.file.read())
    result = await recognize(request, audio, options)
    return _render(result, response_format, options.task)
