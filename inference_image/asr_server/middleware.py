"""The one middleware every request passes: it gives the request an id and a usage record,
checks the API key, refuses new work while draining, counts the request in flight, charges its
body to the server's budget (bodies.py), renders every error as `{"error": {"code", "message",
"type"}}` (errors.py), logs one line and records the request metrics.

A client that goes away before its answer (its connection closed: aiohttp then cancels the
handler, `listen.py`/app.py; or it stopped sending its body) is nobody's error: logged at info
without a traceback and counted as code 499, and its queued work leaves the queue
(scheduler.py)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from asr_server import errors
from asr_server.auth import OPEN_PATHS, check_api_key
from asr_server.dataplane import Usage
from asr_server.engines.base import EngineError
from asr_server.keys import BODIES, CONFIG, METRICS, REQUEST_ID, STATE, USAGE
from asr_server.routes import body

log = logging.getLogger("asr_server.app")
request_log = logging.getLogger("asr_server.request")

_MAX_REQUEST_ID = 128
CLIENT_GONE = errors.HTTP_STATUS[errors.ClientGone]
SWITCHING_PROTOCOLS = 101
"""A WebSocket's status: its lifetime is a stream's, not a request's latency."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    state, metrics = app[STATE], app[METRICS]
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    request[USAGE] = Usage()
    started = time.perf_counter()
    api_call = request.path not in OPEN_PATHS
    gone = False
    if api_call:
        state.inflight += 1
        state.idle.clear()
        metrics.inflight_requests.inc()
    try:
        try:
            check_api_key(request, app[CONFIG].api_key)
            if api_call and state.draining:
                raise errors.Draining("the server is shutting down; retry on another replica")
            if request.body_exists:
                body.refuse_encoded(request)
                bodies = app[BODIES]
                with bodies.hold(bodies.charge_for(request.content_length)):
                    response = await handler(request)
            else:
                response = await handler(request)
        except (errors.ClientGone, ConnectionError):
            gone = True
            response = web.Response(status=errors.http_status(errors.ClientGone("")))
        except asyncio.CancelledError:
            # aiohttp cancels the handler when the connection is lost (handler_cancellation)
            _record(request, None, time.perf_counter() - started)
            raise
        except errors.ASRError as exc:
            response = errors.error_response(exc)
        except EngineError as exc:
            response = errors.error_response(errors.engine_error(exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = errors.http_exception_response(exc)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            response = errors.error_response(errors.ASRError("internal server error"))
    finally:
        if api_call:
            state.inflight -= 1
            metrics.inflight_requests.dec()
            if state.inflight == 0:
                state.idle.set()
    if gone:  # the answer reaches nobody; aiohttp drops it with the connection
        _record(request, None, time.perf_counter() - started)
        return response
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    _record(request, response, time.perf_counter() - started)
    return response


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    if given and len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return uuid.uuid4().hex


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _record(request: web.Request, response: web.StreamResponse | None, seconds: float) -> None:
    """The request's log line and metrics (`response` None: the client went away first); its
    audio was counted by the data plane."""
    metrics = request.app[METRICS]
    route = _route_label(request)
    status = response.status if response is not None else CLIENT_GONE
    metrics.requests_total.labels(route=route, code=str(status)).inc()
    if status not in (CLIENT_GONE, SWITCHING_PROTOCOLS):
        metrics.request_duration_seconds.labels(route=route).observe(seconds)
    fields: dict[str, object] = {
        "request_id": request[REQUEST_ID],
        "method": request.method,
        "route": route,
        "status": status,
        "duration_s": round(seconds, 4),
    }
    if response is None:
        fields["client_gone"] = True
    audio_seconds = request[USAGE].audio_seconds
    if audio_seconds:
        metrics.realtime_factor.observe(seconds / audio_seconds)
        fields["audio_seconds"] = round(audio_seconds, 3)
        fields["rtf"] = round(seconds / audio_seconds, 4)
    request_log.info("request", extra=fields)
