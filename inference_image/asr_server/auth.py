"""Optional bearer-key authentication (`ASR_API_KEY`).

Health, readiness, metrics and the API's OpenAPI document stay open so probes, Prometheus
and API tooling need no key.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from asr_server import errors

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


def check_api_key(request: web.Request, api_key: str | None) -> None:
    """Raise `Unauthorized` unless the request carries `Authorization: Bearer <api_key>`."""
    if not api_key or request.path in OPEN_PATHS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise errors.Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    if not hmac.compare_digest(presented.strip().encode(), api_key.encode()):
        raise errors.Unauthorized("invalid API key")
