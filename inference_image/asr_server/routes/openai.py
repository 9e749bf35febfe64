"""OpenAI-compatible `POST /v1/audio/transcriptions` (multipart/form-data).

Fields: file (required), model (any: `whisper-1`, OpenAI's name for its speech model, or any
other name means the loaded model), response_format (json|text|srt|vtt|verbose_json),
timestamp_granularities[] (segment|word), and the decoding options of `fields.OPENAI`
(language, prompt, temperature; extras hotwords, vad_filter, beam_size).
"""

from __future__ import annotations

from aiohttp import web

from asr_server import errors, fields, formats
from asr_server.routes.body import Form, Upload, read_form
from asr_server.routes.common import decode_container, options, recognize
from asr_server.types import TranscribeOptions

MODEL_ALIAS = "whisper-1"
"""What OpenAI's clients send as `model`; `/v1/models` lists the loaded model under it too."""
RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")
GRANULARITY_FIELDS = ("timestamp_granularities[]", "timestamp_granularities")


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/audio/transcriptions", transcriptions)


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


def parse_options(request: web.Request, form: Form) -> tuple[TranscribeOptions, str]:
    values = text_values(form)
    response_format = values.get("response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise fields.invalid(
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}; "
            f"got {response_format[:40]!r}"
        )
    granularities = [str(v) for key in GRANULARITY_FIELDS for v in form.getall(key, [])]
    for granularity in granularities:
        if granularity not in GRANULARITIES:
            raise fields.invalid(
                f"timestamp_granularities[] must be segment or word; got {granularity[:40]!r}"
            )
    chosen = options(request, values, fields.OPENAI, word_timestamps="word" in granularities)
    return chosen, response_format


async def transcriptions(request: web.Request) -> web.Response:
    form = await read_form(request)
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise fields.invalid("file is required (a multipart file field)")
    chosen, response_format = parse_options(request, form)
    audio = await decode_container(request, upload.data)
    result = await recognize(request, audio, chosen)
    if response_format == "json":
        return web.json_response(formats.to_openai_json(result))
    if response_format == "verbose_json":
        return web.json_response(formats.to_verbose_json(result))
    renderers = {"text": formats.to_text, "srt": formats.to_srt, "vtt": formats.to_vtt}
    return web.Response(text=renderers[response_format](result), content_type="text/plain")
