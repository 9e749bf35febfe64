"""Domain errors and the one table that maps them to HTTP statuses.

Code below the HTTP layer raises these; the error middleware in `app.py` turns them into
`{"error": {"code", "message", "type"}}` with the status from `HTTP_STATUS`.
"""

from __future__ import annotations


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


class PayloadTooLarge(ASRError):
    code = "payload_too_large"
    type = "invalid_request_error"


class UnsupportedMediaType(ASRError):
    code = "unsupported_media_type"
    type = "invalid_request_error"


class NotFound(ASRError):
    code = "not_found"
    type = "invalid_request_error"


class QueueFull(ASRError):
    """Admission refused: every worker busy and the queue full (429 with Retry-After)."""

    code = "queue_full"
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReady(ASRError):
    """Model not loaded yet (503)."""

    code = "not_ready"


class Draining(ASRError):
    """Shutting down: no new work (503)."""

    code = "draining"


class RequestTimeout(ASRError):
    code = "timeout"


HTTP_STATUS: dict[type[ASRError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    NotFound: 404,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    QueueFull: 429,
    NotReady: 503,
    Draining: 503,
    RequestTimeout: 504,
}


def http_status(error: ASRError) -> int:
    """Status for an error: the entry of its nearest class in HTTP_STATUS, else 500."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
