"""OpenAI-compatible `POST /v1/audio/transcriptions` and `POST /v1/audio/translations`
(multipart/form-data).

Transcriptions: file (required), model (any: `whisper-1`, OpenAI's name for its speech model,
or any other name means the loaded model), response_format (json|text|srt|vtt|verbose_json),
timestamp_granularities[] (segment|word), and the decoding options of `fields.OPENAI`
(language, prompt, temperature; extras hotwords, vad_filter, beam_size).

Translations (speech in any language -> English text, Whisper's translate task): file, model,
response_format and the options of `fields.TRANSLATIONS` (prompt, temperature), as OpenAI's
form. A model that cannot translate (an English-only Whisper model, `*.en`; the engine says so
in `EngineInfo.tasks`) is a 400 `translation_unsupported`.
"""

from __future__ import annotations

from aiohttp import web

from asr_server import errors, fields, formats
from asr_server.keys import DATAPLANE, ENGINE, FIELDS
from asr_server.routes.body import Form, Upload, read_form
from asr_server.routes.common import decode_container, options, recognize
from asr_server.types import TranscribeOptions, Transcription

MODEL_ALIAS = "whisper-1"
"""What OpenAI's clients send as `model`; `/v1/models` lists the loaded model under it too."""
RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")
GRANULARITY_FIELDS = ("timestamp_granularities[]", "timestamp_granularities")
TRANSLATE = "translate"


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_post("/v1/audio/translations", translations)


def text_values(form: Form) -> dict[str, str]:
    """The form's text fields (first value of each); a file where text belongs is a 400."""
    values: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, Upload):
            if name != "file":
                raise errors.BadRequest(
                    f"{name} must be a form field, not a file", code="invalid_field"
                )
        else:
            values.setdefault(name, value)
    return values


def _response_format(values: dict[str, str]) -> str:
    response_format = values.get("response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise fields.invalid(
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}; "
            f"got {response_format[:40]!r}"
        )
    return response_format


def _upload(form: Form) -> Upload:
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise fields.invalid("file is required (a multipart file field)")
    return upload


def parse_options(request: web.Request, form: Form) -> tuple[TranscribeOptions, str]:
    values = text_values(form)
    response_format = _response_format(values)
    granularities = [str(v) for key in GRANULARITY_FIELDS for v in form.getall(key, [])]
    for granularity in granularities:
        if granularity not in GRANULARITIES:
            raise fields.invalid(
                f"timestamp_granularities[] must be segment or word; got {granularity[:40]!r}"
            )
    chosen = options(request, values, fields.OPENAI, word_timestamps="word" in granularities)
    return chosen, response_format


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
    chosen, response_format = parse_options(request, form)
    audio = await decode_container(request, upload.data)
    result = await recognize(request, audio, chosen)
    return _render(result, response_format, chosen.task)


async def translations(request: web.Request) -> web.Response:
    form = await read_form(request)
    upload = _upload(form)
    values = text_values(form)
    response_format = _response_format(values)
    chosen = options(
        request,
        values,
        fields.TRANSLATIONS,
        task=TRANSLATE,
        language=request.app[FIELDS].default_language,  # ASR_LANGUAGE, else detected
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
    audio = await decode_container(request, upload.data)
    result = await recognize(request, audio, chosen)
    return _render(result, response_format, chosen.task)
