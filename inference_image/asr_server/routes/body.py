"""Request bodies read once, within limits, every malformation a 4xx naming the problem.

Every route reads its body through here: raw bytes, a JSON object or a form (multipart or
urlencoded). The limits are the configuration's: the body size (`ASR_MAX_BODY_MB`, 413), the
time a client may take to send it (`ASR_BODY_TIMEOUT_S`, 408 `body_timeout`), no
`Content-Encoding` (415: audio containers are compressed already, and an inflated body is
how a 1 MB request becomes 1 GB of memory; aiohttp's own decompression is off, see
`listen.py`). A client that goes away while sending raises `ClientGone`, which the middleware
counts apart from errors.

Forms are parsed here rather than by `request.post()`: every part is held in memory within
the body limit (aiohttp spools larger files to the temp dir, so an unwritable /tmp turned
uploads into 500s), and aiohttp's parser errors (no boundary, truncated body, overlong part
headers, bad charsets, invalid UTF-8) become 400s.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict, MultiDictProxy

from asr_server import errors
from asr_server.keys import CONFIG

MAX_FORM_PARTS = 256
"""Most parts (fields and files) in one form: a batch of files is far fewer."""
_IDENTITY = frozenset({"", "identity"})


@dataclass(frozen=True)
class Upload:
    """A file part of a form, in memory."""

    name: str
    filename: str
    content_type: str
    data: bytes


FormValue = str | Upload
Form = MultiDictProxy[FormValue]


@asynccontextmanager
async def reading_body(request: web.Request) -> AsyncIterator[None]:
    """The deadline for the body and the translation of what can go wrong while reading it
    (the client gone, aiohttp's limit)."""
    seconds = request.app[CONFIG].body_timeout_s
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise errors.BodyTimeout(
            f"the request body did not arrive within {seconds:g} s (body_timeout_s)"
        ) from None
    except ConnectionError:
        raise errors.ClientGone("the client closed the connection while sending") from None
    except web.HTTPRequestEntityTooLarge:
        raise errors.PayloadTooLarge(_too_large(request)) from None


def refuse_encoded(request: web.Request) -> None:
    """415 for a body with a Content-Encoding (the middleware asks, for every route)."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if encoding not in _IDENTITY:
        raise errors.UnsupportedMediaType(
            f"Content-Encoding {encoding[:20]!r} is not accepted: send the audio uncompressed "
            "(audio containers are compressed already)",
            code="unsupported_content_encoding",
        )


def _too_large(request: web.Request) -> str:
    return f"request body too large (limit {request.app[CONFIG].max_body_mb:g} MB, max_body_mb)"


async def read_bytes(request: web.Request) -> bytes:
    async with reading_body(request):
        return await request.read()


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, parsed in a thread (bodies of base64 audio run to MBs)."""
    raw = await read_bytes(request)
    try:
        body = await asyncio.to_thread(json.loads, raw)
    except RecursionError:
        raise errors.BadRequest("body is nested too deeply to parse", code="invalid_json") from None
    except ValueError as exc:  # UnicodeDecodeError and too-long integers are ValueErrors too
        message = f"body is not valid JSON: {_brief(exc)}"
        raise errors.BadRequest(message, code="invalid_json") from None
    if not isinstance(body, dict):
        raise errors.BadRequest("JSON body must be an object", code="invalid_json")
    return body


async def read_form(request: web.Request) -> Form:
    """A multipart/form-data or urlencoded body; 415 for anything else."""
    content_type = request.content_type
    if content_type == "multipart/form-data":
        async with reading_body(request):
            return await _read_multipart(request)
    if content_type == "application/x-www-form-urlencoded":
        return _urlencoded(await read_bytes(request), request.charset)
    raise errors.UnsupportedMediaType(
        f"expected multipart/form-data, got {content_type or 'no content type'}"
    )


async def _read_multipart(request: web.Request) -> Form:
    limit = request.client_max_size
    try:
        reader = await request.multipart()
    except ValueError as exc:
        raise errors.BadRequest(f"malformed multipart body: {_brief(exc)}") from None
    out: MultiDict[FormValue] = MultiDict()
    total = 0
    try:
        while (part := await reader.next()) is not None:
            if isinstance(part, MultipartReader):
                raise errors.BadRequest("nested multipart bodies are not accepted")
            if len(out) >= MAX_FORM_PARTS:
                raise errors.BadRequest(f"more than {MAX_FORM_PARTS} parts in the form")
            data = bytearray()
            while chunk := await part.read_chunk():
                total += len(chunk)
                if 0 < limit < total:
                    raise errors.PayloadTooLarge(_too_large(request))
                data.extend(chunk)
            name, value = _form_value(part, bytes(part.decode(data)))
            out.add(name, value)
    except (ValueError, HttpProcessingError) as exc:
        # No or a wrong boundary, a body cut short, overlong part headers: the client's body.
        # UnicodeDecodeError (a ValueError) is caught where it is raised, in _form_value.
        raise errors.BadRequest(f"malformed multipart body: {_brief(exc)}") from None
    return MultiDictProxy(out)


def _form_value(part: BodyPartReader, data: bytes) -> tuple[str, FormValue]:
    name = part.name
    if not name:
        raise errors.BadRequest("a multipart part has no name (Content-Disposition: name=...)")
    content_type = part.headers.get(hdrs.CONTENT_TYPE, "")
    if part.filename is not None or not (content_type == "" or content_type.startswith("text/")):
        return name, Upload(name, part.filename or "", content_type, data)
    return name, _text(data, part.get_charset(default="utf-8"), name)


def _text(data: bytes, charset: str, name: str) -> str:
    try:
        codecs.lookup(charset)
    except LookupError:
        raise errors.BadRequest(
            f"form field {name[:40]!r} has an unknown charset {charset[:20]!r}",
            code="invalid_field",
        ) from None
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        raise errors.BadRequest(
            f"form field {name[:40]!r} is not valid {charset[:20]}", code="invalid_field"
        ) from None


def _urlencoded(data: bytes, charset: str | None) -> Form:
    text = _text(data, charset or "utf-8", "body")
    try:
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_PARTS, errors="strict"
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"malformed form body: {_brief(exc)}") from None
    return MultiDictProxy(MultiDict[FormValue](pairs))


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
