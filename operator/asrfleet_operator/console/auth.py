"""Authentication, CSRF protection and the security headers, as aiohttp middlewares.

Every `/api/` route but the login needs a token: as `Authorization: Bearer TOKEN` (scripts), or
as the session cookie `POST /api/login` sets after checking it (the browser; HttpOnly,
SameSite=Strict, never holding a token). With `ASRFLEET_CONSOLE_AUTH=token` that is the
console's own token, and the cookie a value derived from it. With `kubernetes` it is the
user's Kubernetes token, checked by a TokenReview (access.py); the cookie then names the user,
signed with the console's token and valid for `SESSION_SECONDS`, and each request is checked
against the user's RBAC by the route (routes.py). A
request that changes something with the cookie must also carry `X-CSRF-Token` (from
`GET /api/session`): a page on another site can make the browser send the cookie, not the
header. WebSocket upgrades must come from the console's own origin. The page and its assets
are public (they hold no data) and are served with a strict Content-Security-Policy: nothing
but the console's own scripts, styles and connections.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from asrfleet_operator.console.access import AccessReviewer, User
from asrfleet_operator.console.errors import Forbidden, Unauthorized

SESSION_COOKIE = "asrfleet_console_session"
SESSION_SECONDS = 8 * 3600
"""How long a per-user session lasts (kubernetes mode): a working day, then log in again."""
USER = web.RequestKey("user", User)
"""Who made the request (kubernetes mode only; with the console's token there is no user)."""
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_API = frozenset({"/api/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Credentials:
    """The token and what is derived from it (the session cookie's value, the CSRF token)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self.session = self._derive("session")
        self.csrf = self._derive("csrf")

    def _derive(self, purpose: str) -> str:
        return hmac.new(self._token, purpose.encode(), hashlib.sha256).hexdigest()

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def session_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.session.encode())

    def csrf_matches(self, candidate: str, session: str | None = None) -> bool:
        """Against the console's CSRF token, or a user session's (`session`: its cookie)."""
        expected = self.csrf if session is None else self.csrf_of(session)
        return hmac.compare_digest(candidate.encode(), expected.encode())

    def user_session(self, user: User, now: float | None = None) -> str:
        """A cookie value naming `user` until SESSION_SECONDS from now, signed."""
        expires = (time.time() if now is None else now) + SESSION_SECONDS
        payload = json.dumps({"user": user.as_json(), "expires": expires}, sort_keys=True)
        encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{encoded}.{self._derive('user:' + encoded)}"

    def session_user(self, cookie: str, now: float | None = None) -> User | None:
        """The user a signed, unexpired session cookie names; None for any other value."""
        encoded, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._derive("user:" + encoded).encode()):
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            if float(raw["expires"]) < (time.time() if now is None else now):
                return None
            return User.from_user_info(raw["user"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None

    def csrf_of(self, session: str) -> str:
        """A user session's CSRF token (the page reads it from GET /api/session)."""
        return self._derive("csrf:" + session)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authenticate(
    request: web.Request, credentials: Credentials, reviewer: AccessReviewer | None
) -> User | None:
    """Who may use the API (None: the console's token); Unauthorized/Forbidden otherwise.
    `reviewer` is set in kubernetes mode."""
    token = bearer(request)
    if token is not None:  # another site cannot make a browser send this header: no CSRF check
        if reviewer is not None:
            return await reviewer.authenticate(token)
        if not credentials.token_matches(token):
            raise Unauthorized("the bearer token is not the console's token", code="bad_token")
        return None
    cookie = request.cookies.get(SESSION_COOKIE, "")
    user = credentials.session_user(cookie) if reviewer is not None else None
    valid = user is not None if reviewer is not None else credentials.session_matches(cookie)
    if not valid:
        raise Unauthorized(
            "log in with a token (Authorization: Bearer, or POST /api/login)",
            code="login_required",
        )
    session = cookie if reviewer is not None else None
    if request.method not in SAFE_METHODS and not credentials.csrf_matches(
        request.headers.get(CSRF_HEADER, ""), session
    ):
        raise Forbidden(f"missing or wrong {CSRF_HEADER} header", code="csrf")
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        check_origin(request)
    return user


def check_origin(request: web.Request) -> None:
    """A cookie-authenticated WebSocket must be opened by the console's own page."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return
    if urlsplit(origin).netloc != request.host:
        raise Forbidden(f"WebSocket from another origin ({origin}) refused", code="origin")


def make_auth_middleware(
    credentials: Credentials, reviewer: Callable[[], AccessReviewer | None]
) -> Middleware:
    """`reviewer()`: the app's AccessReviewer in kubernetes mode (made with its API client in
    the app's cleanup_ctx), else None."""

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and request.path not in PUBLIC_API:
            user = await authenticate(request, credentials, reviewer())
            if user is not None:
                request[USER] = user
        return await handler(request)

    return auth_middleware


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
    return response


def set_session(
    response: web.Response, credentials: Credentials, secure: bool, user: User | None = None
) -> None:
    """The session cookie: the console's (token mode) or one naming `user`."""
    response.set_cookie(
        SESSION_COOKIE,
        credentials.session if user is None else credentials.user_session(user),
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/",
    )


def clear_session(response: web.Response) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
