"""Token, session cookie and CSRF checks of the console's auth middleware; the signed per-user
sessions of kubernetes auth."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from asrfleet_operator.console.access import AccessReviewer, User
from asrfleet_operator.console.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Credentials,
    authenticate,
)
from asrfleet_operator.console.errors import Forbidden, Unauthorized

CREDENTIALS = Credentials("the-console-token-0123456789")


def request(method: str = "GET", **headers: str) -> web.Request:
    return make_mocked_request(method, "/api/fleet", headers=headers)


async def test_bearer_token_passes_without_csrf() -> None:
    await authenticate(
        request("POST", Authorization="Bearer the-console-token-0123456789"), CREDENTIALS, None
    )
    with pytest.raises(Unauthorized):
        await authenticate(request(Authorization="Bearer wrong"), CREDENTIALS, None)


async def test_session_cookie_needs_csrf_for_changes_only() -> None:
    cookie = f"{SESSION_COOKIE}={CREDENTIALS.session}"
    await authenticate(request(Cookie=cookie), CREDENTIALS, None)
    with pytest.raises(Forbidden):
        await authenticate(request("POST", Cookie=cookie), CREDENTIALS, None)
    await authenticate(
        request("POST", Cookie=cookie, **{CSRF_HEADER: CREDENTIALS.csrf}), CREDENTIALS, None
    )


async def test_the_cookie_holds_no_token_and_a_forged_one_fails() -> None:
    assert "the-console-token" not in CREDENTIALS.session
    with pytest.raises(Unauthorized):
        await authenticate(request(Cookie=f"{SESSION_COOKIE}=forged"), CREDENTIALS, None)
    with pytest.raises(Unauthorized):
        await authenticate(request(), CREDENTIALS, None)


async def test_a_websocket_from_another_origin_is_refused() -> None:
    cookie = f"{SESSION_COOKIE}={CREDENTIALS.session}"
    ws = {"Cookie": cookie, "Upgrade": "websocket", "Host": "console.example"}
    await authenticate(request(**ws, Origin="http://console.example"), CREDENTIALS, None)
    with pytest.raises(Forbidden):
        await authenticate(request(**ws, Origin="http://evil.example"), CREDENTIALS, None)


def test_a_user_session_names_its_user_until_it_expires() -> None:
    alice = User("alice", "u-1", ("team-a", "system:authenticated"), (("scopes", ("x",)),))
    cookie = CREDENTIALS.user_session(alice, now=1000.0)
    assert "the-console-token" not in cookie and "alice" not in cookie  # encoded, and signed
    assert CREDENTIALS.session_user(cookie, now=1000.0 + SESSION_SECONDS - 1) == alice
    assert CREDENTIALS.session_user(cookie, now=1000.0 + SESSION_SECONDS + 1) is None
    payload, _, signature = cookie.partition(".")
    mallory = CREDENTIALS.user_session(User("mallory"), now=1000.0).partition(".")[0]
    assert CREDENTIALS.session_user(f"{mallory}.{signature}", now=1000.0) is None
    assert CREDENTIALS.session_user(f"{payload}.{'0' * 64}", now=1000.0) is None
    assert CREDENTIALS.session_user("not a session", now=1000.0) is None
    other = Credentials("another-console-token-0123")
    assert other.session_user(cookie, now=1000.0) is None  # another console's key


async def test_a_user_session_has_its_own_csrf_token() -> None:
    cookie = CREDENTIALS.user_session(User("alice"))
    reviewer = AccessReviewer(None, 10.0)  # type: ignore[arg-type]  # cookies need no API
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert await authenticate(request(**headers), CREDENTIALS, reviewer) == User("alice")
    with pytest.raises(Forbidden):
        await authenticate(request("POST", **headers, **{CSRF_HEADER: CREDENTIALS.csrf}),
                           CREDENTIALS, reviewer)  # fmt: skip
    csrf = {CSRF_HEADER: CREDENTIALS.csrf_of(cookie)}
    assert await authenticate(request("POST", **headers, **csrf), CREDENTIALS, reviewer)
    with pytest.raises(Unauthorized):  # the console's own session means nothing here
        await authenticate(request(Cookie=f"{SESSION_COOKIE}={CREDENTIALS.session}"),
                           CREDENTIALS, reviewer)  # fmt: skip
