"""Domain errors, the one table that maps them to HTTP statuses, and the error responses.

Code below the HTTP layer raises these; the middleware (`middleware.py`) turns them, and
aiohttp's own refusals (no such route, wrong method, body over the limit), into
`{"error": {"code", "message", "type"}}` with the status from `HTTP_STATUS`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from asr_server.engines.base import EngineError


class ASRError(Exception):
    """Base of every error a client may see. `code` is a stable machine-readable string."""

    code = "internal_error"
    type = "server_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(ASRError):
    """A malformed field or request (400)."""

    code = "invalid_request"
    type = "invalid_request_error"


class BadAudio(BadRequest):
    """Empty, undecodable or over-long audio (400). Codes: empty_audio, undecodable_audio,
    audio_too_long, invalid_pcm."""

    code = "invalid_audio"


class Unauthorized(ASRError):
    code = "invalid_api_key"
    type = "authentication_error"


class NotFound(ASRError):
    """No such route (aiohttp's 404)."""

    code = "not_found"
    type = "invalid_request_error"


class MethodNotAllowed(ASRError):
    """A route that does not take this method (aiohttp's 405)."""

    code = "method_not_allowed"
    type = "invalid_request_error"


class PayloadTooLarge(ASRError):
    """A body over max_body_mb (aiohttp's 413)."""

    code = "payload_too_large"
    type = "invalid_request_error"


class UnsupportedMediaType(ASRError):
    code = "unsupported_media_type"
    type = "invalid_request_error"


class BodyTimeout(ASRError):
    """The request body did not arrive within body_timeout_s (408)."""

    code = "body_timeout"
    type = "invalid_request_error"


class ClientGone(ASRError):
    """The client closed the connection before its answer: not an error of anyone's that a
    response could report. The middleware logs it at info and counts it as code 499 (nginx's
    "client closed request"); nothing is sent."""

    code = "client_closed_request"
    type = "invalid_request_error"


class QueueFull(ASRError):
    """Admission refused: every worker busy and the queue full (429 with Retry-After)."""

    code = "queue_full"
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BodiesFull(QueueFull):
    """Admission refused: the bodies of requests in progress fill ASR_MAX_BODIES_MB (429 with
    Retry-After, before the body is read; bodies.py)."""

    code = "bodies_full"


class NotReady(ASRError):
    """Model not loaded yet (503)."""

    code = "not_ready"


class Draining(ASRError):
    """Shutting down: no new work (503)."""

    code = "draining"


class RequestTimeout(ASRError):
    code = "timeout"


class TooManyConnections(ASRError):
    """The pod already holds ASR_MAX_CONNECTIONS open connections (503 with Retry-After,
    written by `listen.py` before the connection is closed)."""

    code = "too_many_connections"


HTTP_STATUS: dict[type[ASRError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    NotFound: 404,
    MethodNotAllowed: 405,
    BodyTimeout: 408,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    QueueFull: 429,
    ClientGone: 499,
    NotReady: 503,
    Draining: 503,
    TooManyConnections: 503,
    RequestTimeout: 504,
}

_AIOHTTP_REFUSALS = (NotFound, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType)
"""The domain errors aiohttp raises as its own HTTPExceptions, found by their status."""


def http_status(error: ASRError) -> int:
    """Status for an error: the entry of its nearest class in HTTP_STATUS, else 500."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def engine_error(exc: EngineError) -> BadRequest:
    """An item the engine refused: the client's problem (400 `engine_error`), not a fault."""
    return BadRequest(str(exc), code="engine_error")


def error_body(error: ASRError) -> dict[str, dict[str, str]]:
    return {"error": {"code": error.code, "message": error.message, "type": error.type}}


def error_response(
    error: ASRError, *, status: int | None = None, extra: dict[str, Any] | None = None
) -> web.Response:
    """The JSON error response (`extra`: more top-level keys, e.g. ASRT's status fields), with
    Retry-After on a 429. `status`: aiohttp's own, for a refusal it raised itself."""
    response = web.json_response(
        {**(extra or {}), **error_body(error)}, status=status or http_status(error)
    )
    if isinstance(error, QueueFull):
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))

    return response


def http_exception_response(exc: web.HTTPException) -> web.Response:
    """One of aiohttp's own refusals (status >= 400) rendered like our errors: the domain error
    of its status, or a generic one (client or server error) that keeps aiohttp's status."""
    message = exc.text or exc.reason
    if exc.status == HTTP_STATUS[PayloadTooLarge]:
        message = f"request body too large (limit {exc.text or 'max_body_mb'})"
    refusal = next((cls for cls in _AIOHTTP_REFUSALS if HTTP_STATUS[cls] == exc.status), None)
    if refusal is not None:
        error: ASRError = refusal(message)
    elif exc.status < 500:
        error = BadRequest(message)
    else:
        error = ASRError(message)
    response = error_response(error, status=exc.status)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response
