"""Authentication, CSRF protection and the security headers, as aiohttp middlewares.

Every `/api/` route but the login needs the console's token: as `Authorization: Bearer TOKEN`
(scripts), or as the session cookie `POST /api/login` sets after checking it (the browser;
HttpOnly, SameSite=Strict, holding a value derived from the token, never the token). A
request that changes something with the cookie must also carry `X-CSRF-Token` (from
`GET /api/session`): a page on another site can make the browser send the cookie, not the
header. WebSocket upgrades must come from the console's own origin. The page and its assets
are public (they hold no data) and are served with a strict Content-Security-Policy: nothing
but the console's own scripts, styles and connections.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from asrfleet_operator.console.errors import Forbidden, Unauthorized

SESSION_COOKIE = "asrfleet_console_session"
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

    def csrf_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.csrf.encode())


def bearer(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(request: web.Request, credentials: Credentials) -> None:
    """Raise Unauthorized/Forbidden unless the request may use the API."""
    token = bearer(request)
    if token is not None:
        if not credentials.token_matches(token):
            raise Unauthorized("the bearer token is not the console's token", code="bad_token")
        return  # another site cannot make a browser send this header: no CSRF check
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None or not credentials.session_matches(cookie):
        raise Unauthorized(
            "log in with the console's token (Authorization: Bearer, or POST /api/login)",
            code="login_required",
        )
    if request.method not in SAFE_METHODS and not credentials.csrf_matches(
        request.headers.get(CSRF_HEADER, "")
    ):
        raise Forbidden(f"missing or wrong {CSRF_HEADER} header", code="csrf")
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        check_origin(request)


def check_origin(request: web.Request) -> None:
    """A cookie-authenticated WebSocket must be opened by the console's own page."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return
    if urlsplit(origin).netloc != request.host:
        raise Forbidden(f"WebSocket from another origin ({origin}) refused", code="origin")


def make_auth_middleware(credentials: Credentials) -> Middleware:
    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and request.path not in PUBLIC_API:
            authenticate(request, credentials)
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


def set_session(response: web.Response, credentials: Credentials, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        credentials.session,
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/",
    )


def clear_session(response: web.Response) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
