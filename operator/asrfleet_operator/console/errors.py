"""The console's domain errors and the one table mapping them to HTTP statuses.

Every error reaches the browser as `{"error": {"code", "message"}}` with the status below;
an input the console refuses is a 4xx, never a 5xx. A recognizer or Kubernetes API that does
not answer is a 502/504: the console itself is fine, its peer is not.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """A request the console cannot serve; `code` is machine-readable, the message human."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(ConsoleError):
    code = "bad_request"


class Unauthorized(ConsoleError):
    code = "unauthorized"


class Forbidden(ConsoleError):
    code = "forbidden"


class NotFound(ConsoleError):
    code = "not_found"


class Conflict(ConsoleError):
    code = "conflict"


class PayloadTooLarge(ConsoleError):
    code = "payload_too_large"


class UpstreamError(ConsoleError):
    """The recognizer or the Kubernetes API answered with an error or not at all."""

    code = "upstream_error"


class UpstreamTimeout(ConsoleError):
    code = "upstream_timeout"


class RecognizerRefused(ConsoleError):
    """The recognizer refused the request with a 4xx (bad audio, busy...): passed on as is."""

    code = "recognizer_refused"

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message, code)
        self.status = status


STATUS: dict[type[ConsoleError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UpstreamError: 502,
    UpstreamTimeout: 504,
}


def status_of(error: ConsoleError) -> int:
    if isinstance(error, RecognizerRefused):
        return error.status
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500
