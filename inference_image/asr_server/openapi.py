"""The OpenAPI 3.1 document of every HTTP route: served at `GET /openapi.json`, checked
against the app's router by a test (tests/unit/asr_server/test_openapi.py: a route without an
operation here, or an operation without a route, fails), fuzzed against a live server with
schemathesis, and rendered into docs/server-api.md's reference by `make api-reference`.

The decoding options come from the one table, `fields.OPTION_FIELDS`: a new option appears
in every operation that takes it. A new route is one entry in `OPERATIONS`. Error statuses
come from `errors.HTTP_STATUS`'s codes, so the document says what the server answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asr_server import __version__, fields
from asr_server.languages import LANGUAGE_NAMES
from asr_server.routes.openai import GRANULARITIES, RESPONSE_FORMATS

JSON = "application/json"
Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


BOOL_STRINGS = ["true", "false", "1", "0", "yes", "no", "on", "off", ""]


def _wire_schema(option: fields.OptionField, *, as_text: bool, languages: Sequence[str]) -> Schema:
    """The schema of an option where it arrives: as text (form field, query parameter), or
    as a JSON value (which may also be its text form)."""
    schema = dict(option.schema)
    if option.name == "language":
        schema = {"type": "string", "enum": [*languages, ""]}
    kind = schema.get("type")
    if kind == "boolean":
        text = {"type": "string", "enum": BOOL_STRINGS}
        return text if as_text else {"oneOf": [{"type": "boolean"}, text]}
    if kind == "number" and as_text:
        return {
            "type": "string",
            "description": f"a number from {schema['minimum']} to {schema['maximum']}",
        }
    return schema


def option_properties(transport: str, *, as_text: bool, languages: Sequence[str]) -> Schema:
    return {
        f.name: {**_wire_schema(f, as_text=as_text, languages=languages), "description": f.doc}
        for f in fields.fields_for(transport)
    }


def option_parameters(transport: str, languages: Sequence[str]) -> list[Schema]:
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {k: v for k, v in schema.items() if k != "description"},
            "description": schema["description"],
        }
        for name, schema in option_properties(transport, as_text=True, languages=languages).items()
    ]


ERROR_STATUSES = {
    400: "A malformed body, field, audio or encoding (the message names it).",
    401: "ASR_API_KEY is set and the bearer key is missing or wrong.",
    408: "The body did not arrive within ASR_BODY_TIMEOUT_S.",
    413: "The body is over ASR_MAX_BODY_MB.",
    415: "A content type the route does not take, or a Content-Encoding (send audio as is).",
    429: "Queue full, or the bodies in progress fill ASR_MAX_BODIES_MB: see Retry-After.",
    500: "A server fault (logged with the request id).",
    503: "The model is loading, the server is draining, or it holds ASR_MAX_CONNECTIONS.",
    504: "No result within ASR_REQUEST_TIMEOUT_S.",
}
RECOGNITION_ERRORS = (400, 401, 408, 413, 415, 429, 500, 503, 504)


def _error_responses(statuses: Sequence[int], schema: str = "Error") -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for status in statuses:
        response: Schema = {
            "description": ERROR_STATUSES[status],
            "content": {JSON: {"schema": ref(schema)}},
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying (429; 503 over the cap).",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        out[str(status)] = response
    return out


def _json_response(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _openai_form(transport: str, languages: Sequence[str], **extra: Schema) -> Schema:
    """The multipart body OpenAI's audio routes share: the file, a model name, the response
    format, `extra` fields and the transport's options."""
    return {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "The audio file."},
            "model": {"type": "string", "description": "Any name: the loaded model answers."},
            "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS)},
            **extra,
            **option_properties(transport, as_text=True, languages=languages),
        },
    }


def _openai_responses(description: str) -> Schema:
    """An OpenAI audio route's answers: its text as JSON or plain text, or an error."""
    return {
        "200": {
            "description": description,
            "content": {
                JSON: {"schema": {"oneOf": [ref("OpenAIText"), ref("VerboseTranscription")]}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        **_error_responses(RECOGNITION_ERRORS),
    }


def _transcriptions(languages: Sequence[str]) -> Schema:
    granularities = {
        "timestamp_granularities[]": {
            "type": "array",
            "items": {"type": "string", "enum": list(GRANULARITIES)},
        }
    }
    form = _openai_form(fields.OPENAI, languages, **granularities)
    return {
        "summary": "OpenAI-compatible transcription",
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": form,
                    "encoding": {"timestamp_granularities[]": {"explode": True}},
                }
            },
        },
        "responses": _openai_responses("The transcription in the response_format asked for."),
    }


def _translations() -> Schema:
    form = _openai_form(fields.TRANSLATIONS, ())
    return {
        "summary": "OpenAI-compatible translation: speech in any language to English text",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form}}},
        "responses": _openai_responses("The English text in the response_format asked for."),
    }


def _recognize(languages: Sequence[str]) -> Schema:
    json_body = {
        "type": "object",
        "required": ["audio"],
        "properties": {
            "audio": {"type": "string", "contentEncoding": "base64"},
            "format": {"type": "string", "description": "pcm16/s16le: raw PCM; else a container"},
            "sample_rate": {"type": "integer", "minimum": 1000, "maximum": 192000},
            "channels": {"type": "integer", "minimum": 1, "maximum": 8},
            **option_properties(fields.RECOGNIZE, as_text=False, languages=languages),
        },
    }
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "summary": "Recognise one audio body (raw, or JSON with base64 audio)",
        "parameters": option_parameters(fields.RECOGNIZE, languages),
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": binary,
                "audio/*": binary,
                JSON: {"schema": json_body},
            },
        },
        "responses": {
            "200": _json_response("The recognition result.", ref("Recognition")),
            **_error_responses(RECOGNITION_ERRORS),
        },
    }


def _recognize_batch(languages: Sequence[str]) -> Schema:
    form = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
            **option_properties(fields.RECOGNIZE, as_text=True, languages=languages),
        },
    }
    entry = {
        "oneOf": [
            {"allOf": [ref("Recognition"), {"required": ["file"]}]},
            {"allOf": [ref("Error"), {"required": ["file"]}]},
        ],
    }
    return {
        "summary": "Recognise several files; one result or error per file, in order",
        "parameters": option_parameters(fields.RECOGNIZE, languages),
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form, "encoding": {"file": {"explode": True}}}
            },
        },
        "responses": {
            "200": _json_response("One entry per file part.", {"type": "array", "items": entry}),
            **_error_responses(RECOGNITION_ERRORS),
        },
    }


def _asrt(summary: str, result: Schema, languages: Sequence[str]) -> Schema:
    body = {
        "type": "object",
        "required": ["samples"],
        "properties": {
            "samples": {"type": "string", "description": "urlsafe-base64 PCM16 samples"},
            "sample_rate": {"type": "integer", "minimum": 1000, "maximum": 192000},
            "channels": {"type": "integer", "minimum": 1, "maximum": 8},
            "byte_width": {"type": "integer", "enum": [2]},
            **option_properties(fields.ASRT, as_text=False, languages=languages),
        },
    }

    return {
        "summary": summary,
        "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
        "responses": {
            "200": _json_response(
                "ASRT's answer.",
                {"allOf": [ref("AsrtAnswer"), {"properties": {"result": result}}]},
            ),
            **_error_responses(RECOGNITION_ERRORS, "AsrtError"),
        },
    }


def _get(summary: str, responses: dict[str, Schema]) -> Schema:
    return {"summary": summary, "responses": responses}


def _operations(languages: Sequence[str]) -> dict[tuple[str, str], Schema]:
    status = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    }
    text = {
        "description": "Prometheus text format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return {
        ("post", "/v1/audio/transcriptions"): _transcriptions(languages),
        ("post", "/v1/audio/translations"): _translations(),
        ("post", "/v1/recognize"): _recognize(languages),
        ("post", "/v1/recognize/batch"): _recognize_batch(languages),
        ("post", "/all"): _asrt("ASRT: PCM16 samples to text", {"type": "string"}, languages),
        ("post", "/speech"): _asrt(
            "ASRT: PCM16 samples to pinyin",
            {"type": "array", "items": {"type": "string"}},
            languages,
        ),
        ("get", "/v1/stream"): _get(
            "Live recognition over WebSocket (protocol: docs/streaming.md)",
            {
                "101": {"description": "The WebSocket upgrade."},
                **_error_responses((400, 401, 503)),
            },
        ),
        ("get", "/v1/realtime"): _get(
            "OpenAI Realtime transcription over WebSocket (?intent=transcription; "
            "docs/streaming.md)",
            {
                "101": {"description": "The WebSocket upgrade."},
                **_error_responses((400, 401, 503)),
            },
        ),
        ("get", "/v1/models"): _get(
            "The loaded model and the settings in effect",
            {
                "200": _json_response("OpenAI's list shape plus the settings.", ref("Models")),
                **_error_responses((401, 503)),
            },
        ),
        ("get", "/healthz"): _get(
            "Liveness: the process answers", {"200": _json_response("Alive.", status)}
        ),
        ("get", "/readyz"): _get(
            "Readiness: model loaded, not draining, temp and model dirs writable",
            {
                "200": _json_response("Ready.", status),
                "503": _json_response("Not ready; status and error say why.", ref("NotReady")),
            },
        ),
        ("get", "/metrics"): _get("Prometheus metrics", {"200": text}),
        ("get", "/openapi.json"): _get(
            "This document", {"200": _json_response("OpenAPI 3.1.", {"type": "object"})}
        ),
    }


OPERATIONS: tuple[tuple[str, str], ...] = tuple(_operations(()).keys())
"""(method, path) of every documented operation: the router must have exactly these."""

_NUMBER = {"type": "number"}
_SEGMENT = {
    "type": "object",
    "required": ["start", "end", "text", "confidence"],
    "properties": {
        "start": _NUMBER,
        "end": _NUMBER,
        "text": {"type": "string"},
        "confidence": _NUMBER,
        "words": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["word", "start", "end", "probability"],
                "properties": {
                    "word": {"type": "string"},
                    "start": _NUMBER,
                    "end": _NUMBER,
                    "probability": _NUMBER,
                },
            },
        },
    },
}
_ERROR = {
    "type": "object",
    "required": ["code", "message", "type"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "type": {"type": "string"},
    },
}
SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": _ERROR}},
    "NotReady": {
        "type": "object",
        "required": ["status", "error"],
        "properties": {"status": {"type": "string"}, "error": _ERROR},
    },
    "AsrtAnswer": {
        "type": "object",
        "required": ["status_code", "status_message", "result"],
        "properties": {
            "status_code": {"type": "integer"},
            "status_message": {"type": "string"},
            "result": {},
        },
    },
    "AsrtError": {"allOf": [ref("AsrtAnswer"), ref("Error")]},
    "OpenAIText": {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string"}},
    },
    "VerboseTranscription": {
        "type": "object",
        "required": ["task", "language", "duration", "text", "segments"],
        "properties": {
            "task": {"type": "string"},
            "language": {"type": "string"},
            "duration": _NUMBER,
            "text": {"type": "string"},
            "segments": {"type": "array", "items": {"type": "object"}},
            "words": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Recognition": {
        "type": "object",
        "required": ["text", "confidence", "language", "duration", "segments"],
        "properties": {
            "file": {"type": ["string", "null"]},
            "text": {"type": "string"},
            "confidence": _NUMBER,
            "language": {"type": "string"},
            "duration": _NUMBER,
            "segments": {"type": "array", "items": _SEGMENT},
        },
    },
    "Models": {
        "type": "object",
        "required": ["object", "data", "loaded", "batching", "admission"],
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "object"],
                    "properties": {"id": {"type": "string"}, "object": {"const": "model"}},
                },
            },
            "loaded": {"type": "object"},
            "batching": {"type": "object"},
            "admission": {"type": "object"},
        },
    },
}


def document(languages: Sequence[str] = ()) -> Schema:
    """The OpenAPI document. `languages`: the loaded model's (the `language` enum); empty:
    every language Whisper knows."""
    spoken = list(languages) or sorted(LANGUAGE_NAMES)
    paths: dict[str, dict[str, Schema]] = {}
    for (method, path), operation in _operations(spoken).items():
        operation_id = f"{method}_{path.strip('/').replace('/', '_').replace('.', '_')}"
        paths.setdefault(path, {})[method] = {"operationId": operation_id, **operation}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "asr-server",
            "version": __version__,
            "description": "Speech recognition over HTTP (docs/server-api.md).",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
