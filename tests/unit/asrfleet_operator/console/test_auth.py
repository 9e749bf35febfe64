"""Token, session cookie and CSRF checks of the console's auth middleware."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from asrfleet_operator.console.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Credentials,
    authenticate,
)
from asrfleet_operator.console.errors import Forbidden, Unauthorized

CREDENTIALS = Credentials("the-console-token-0123456789")


def request(method: str = "GET", **headers: str) -> web.Request:
    return make_mocked_request(method, "/api/fleet", headers=headers)


def test_bearer_token_passes_without_csrf() -> None:
    authenticate(request("POST", Authorization="Bearer the-console-token-0123456789"), CREDENTIALS)
    with pytest.raises(Unauthorized):
        authenticate(request(Authorization="Bearer wrong"), CREDENTIALS)


def test_session_cookie_needs_csrf_for_changes_only() -> None:
    cookie = f"{SESSION_COOKIE}={CREDENTIALS.session}"
    authenticate(request(Cookie=cookie), CREDENTIALS)
    with pytest.raises(Forbidden):
        authenticate(request("POST", Cookie=cookie), CREDENTIALS)
    authenticate(request("POST", Cookie=cookie, **{CSRF_HEADER: CREDENTIALS.csrf}), CREDENTIALS)


def test_the_cookie_holds_no_token_and_a_forged_one_fails() -> None:
    assert "the-console-token" not in CREDENTIALS.session
    with pytest.raises(Unauthorized):
        authenticate(request(Cookie=f"{SESSION_COOKIE}=forged"), CREDENTIALS)
    with pytest.raises(Unauthorized):
        authenticate(request(), CREDENTIALS)


def test_a_websocket_from_another_origin_is_refused() -> None:
    cookie = f"{SESSION_COOKIE}={CREDENTIALS.session}"
    ws = {"Cookie": cookie, "Upgrade": "websocket", "Host": "console.example"}
    authenticate(request(**ws, Origin="http://console.example"), CREDENTIALS)
    with pytest.raises(Forbidden):
        authenticate(request(**ws, Origin="http://evil.example"), CREDENTIALS)
