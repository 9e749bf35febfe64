"""The one table from domain errors to HTTP statuses, and the error responses built from it
(aiohttp's own refusals included)."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from asr_server import errors
from asr_server.engines.base import EngineError


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.BadAudio("x", code="empty_audio"), 400),
        (errors.BadRequest("x"), 400),
        (errors.Unauthorized("x"), 401),
        (errors.UnsupportedMediaType("x"), 415),
        (errors.QueueFull("x", retry_after=2.4), 429),
        (errors.NotReady("x"), 503),
        (errors.Draining("x"), 503),
        (errors.RequestTimeout("x"), 504),
        (errors.ASRError("x"), 500),
    ],
)
def test_each_error_has_the_status_of_its_nearest_class(
    error: errors.ASRError, status: int
) -> None:
    assert errors.http_status(error) == status
    assert errors.error_response(error).status == status


def body(response: web.Response) -> dict[str, object]:
    assert response.text is not None
    return dict(json.loads(response.text))


def test_a_full_queue_says_when_to_retry_and_extra_keys_come_first() -> None:
    response = errors.error_response(
        errors.QueueFull("busy", retry_after=2.4), extra={"status_code": 500001}
    )
    assert response.headers["Retry-After"] == "2"
    assert list(body(response)) == ["status_code", "error"]
    assert body(response)["error"] == {
        "code": "queue_full",
        "message": "busy",
        "type": "rate_limit_error",
    }


@pytest.mark.parametrize(
    ("exc", "status", "code", "kind"),
    [
        (web.HTTPNotFound(), 404, "not_found", "invalid_request_error"),
        (web.HTTPMethodNotAllowed("GET", ["POST"]), 405, "method_not_allowed",
         "invalid_request_error"),
        (web.HTTPRequestEntityTooLarge(100, 200), 413, "payload_too_large",
         "invalid_request_error"),
        (web.HTTPUnsupportedMediaType(), 415, "unsupported_media_type", "invalid_request_error"),
        (web.HTTPLengthRequired(), 411, "invalid_request", "invalid_request_error"),
        (web.HTTPBadGateway(), 502, "internal_error", "server_error"),
    ],
)  # fmt: skip
def test_aiohttp_refusals_render_like_ours_and_keep_their_status(
    exc: web.HTTPException, status: int, code: str, kind: str
) -> None:
    response = errors.http_exception_response(exc)
    assert response.status == status
    error = body(response)["error"]
    assert isinstance(error, dict) and (error["code"], error["type"]) == (code, kind)
    assert error["message"]
    if status == 405:
        assert response.headers["Allow"] == "POST"
    if status == 413:
        assert error["message"].startswith("request body too large")


def test_an_engine_refusal_is_a_400() -> None:
    error = errors.engine_error(EngineError("language 'xx' is not supported"))
    assert (errors.http_status(error), error.code) == (400, "engine_error")
