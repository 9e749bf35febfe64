"""The aiohttp application: `create_app(config, engine=None)`.

State lives under typed `web.AppKey`s (below). The engine loads in a worker thread after
startup, so the socket is open at once and `/readyz` says 503 until the model is ready. One
middleware gives every request an id, checks the API key, refuses new work while draining,
renders every error as `{"error": {"code", "message", "type"}}`, logs one line and records the
request metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from asr_server import errors
from asr_server.auth import OPEN_PATHS, check_api_key
from asr_server.batching import resolve_settings
from asr_server.cache import ResultCache
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine, EngineError
from asr_server.metrics import Metrics
from asr_server.scheduler import Scheduler

log = logging.getLogger("asr_server.app")
request_log = logging.getLogger("asr_server.request")

DrainHook = Callable[[], Awaitable[None]]


@dataclass
class ServerState:
    """Mutable per-app lifecycle state."""

    draining: bool = False
    inflight: int = 0
    """API requests (and streams) being handled; drain waits for this to reach 0."""
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever `inflight` is 0."""
    load_error: str | None = None
    load_task: asyncio.Task[None] | None = None
    on_drain: list[DrainHook] = field(default_factory=list)
    """Awaited when draining starts, e.g. by the stream route to finalise open streams."""


CONFIG = web.AppKey("config", ServerConfig)
ENGINE = web.AppKey("engine", ASREngine)
SCHEDULER = web.AppKey("scheduler", Scheduler)
CACHE = web.AppKey("cache", ResultCache)
METRICS = web.AppKey("metrics", Metrics)
STATE = web.AppKey("state", ServerState)

REQUEST_ID = web.RequestKey("request_id", str)
AUDIO_SECONDS = web.RequestKey("audio_seconds", float)
"""Set by a route that recognised audio: logged and counted."""

_MAX_REQUEST_ID = 128


def create_app(config: ServerConfig, engine: ASREngine | None = None) -> web.Application:
    if engine is None:
        from asr_server.engines import create_engine

        engine = create_engine(config)
    app = web.Application(
        client_max_size=int(config.max_body_mb * 1024 * 1024),
        middlewares=[_observe_middleware],
        handler_args={"access_log": None},
    )
    metrics = Metrics.create()
    app[CONFIG] = config
    app[ENGINE] = engine
    app[METRICS] = metrics
    app[STATE] = ServerState()
    app[STATE].idle.set()
    app[CACHE] = ResultCache(config.cache_entries, metrics)
    app[SCHEDULER] = Scheduler(
        engine,
        max_queue=config.max_queue,
        request_timeout_s=config.request_timeout_s,
        metrics=metrics,
    )
    app.cleanup_ctx.append(_engine_and_scheduler)

    from asr_server.routes import asrt, openai, ops, recognize, stream

    for module in (ops, openai, recognize, asrt, stream):
        module.setup(app)
    return app


async def _engine_and_scheduler(app: web.Application) -> AsyncIterator[None]:
    state, engine, scheduler = app[STATE], app[ENGINE], app[SCHEDULER]

    async def load() -> None:
        started = time.perf_counter()
        try:
            if not engine.ready:
                await asyncio.to_thread(engine.load)
        except Exception as exc:  # reported by /readyz; `serve` exits non-zero on it
            state.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model load failed")
            return
        seconds = time.perf_counter() - started
        app[METRICS].model_load_seconds.set(seconds)
        settings = resolve_settings(app[CONFIG], engine.info.device)
        scheduler.start(settings)
        log.info(
            "model loaded",
            extra={"model": engine.info.name, "device": engine.info.device, "seconds": seconds},
        )

    state.load_task = asyncio.create_task(load(), name="asr-model-load")
    yield
    if not state.load_task.done():
        state.load_task.cancel()
    await scheduler.stop()


async def drain(app: web.Application, grace_s: float) -> bool:
    """Stop taking work and wait for in-flight requests and streams, at most `grace_s`.

    Order (DESIGN.md): readiness 503 and new work refused at once, then drain hooks
    (streams finalise) while in-flight work finishes. True when everything finished."""
    state = app[STATE]
    state.draining = True
    app[SCHEDULER].begin_drain()
    deadline = time.monotonic() + grace_s
    hooks = [asyncio.ensure_future(hook()) for hook in state.on_drain]
    if state.inflight > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.idle.wait(), grace_s)
    if hooks:
        done, pending = await asyncio.wait(hooks, timeout=max(0.0, deadline - time.monotonic()))
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("drain hook failed", exc_info=task.exception())
    log.info("drained", extra={"inflight_left": state.inflight})
    return state.inflight == 0


def error_body(code: str, message: str, type_: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "type": type_}}


def error_response(exc: errors.ASRError) -> web.Response:
    response = web.json_response(
        error_body(exc.code, exc.message, exc.type), status=errors.http_status(exc)
    )
    if isinstance(exc, errors.QueueFull):
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return response


_HTTP_CODES = {
    404: ("not_found", "invalid_request_error"),
    405: ("method_not_allowed", "invalid_request_error"),
    413: ("payload_too_large", "invalid_request_error"),
    415: ("unsupported_media_type", "invalid_request_error"),
}


def _http_error_response(exc: web.HTTPException) -> web.Response:
    fallback = ("invalid_request", "invalid_request_error")
    if exc.status >= 500:
        fallback = ("internal_error", "server_error")
    code, type_ = _HTTP_CODES.get(exc.status, fallback)
    message = exc.text or exc.reason
    if exc.status == 413:
        message = f"request body too large (limit {exc.text or 'max_body_mb'})"
    response = web.json_response(error_body(code, message, type_), status=exc.status)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    if given and len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return uuid.uuid4().hex


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def _observe_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    app = request.app
    state, metrics = app[STATE], app[METRICS]
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    api_call = request.path not in OPEN_PATHS
    if api_call:
        state.inflight += 1
        state.idle.clear()
        metrics.inflight_requests.inc()
    try:
        try:
            check_api_key(request, app[CONFIG].api_key)
            if api_call and state.draining:
                raise errors.Draining("the server is shutting down; retry on another replica")
            response = await handler(request)
        except errors.ASRError as exc:
            response = error_response(exc)
        except EngineError as exc:
            response = error_response(errors.BadRequest(str(exc), code="engine_error"))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _http_error_response(exc)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            response = web.json_response(
                error_body("internal_error", "internal server error", "server_error"), status=500
            )
    finally:
        if api_call:
            state.inflight -= 1
            metrics.inflight_requests.dec()
            if state.inflight == 0:
                state.idle.set()
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    _record(request, response, time.perf_counter() - started)
    return response


def _record(request: web.Request, response: web.StreamResponse, seconds: float) -> None:
    metrics = request.app[METRICS]
    route = _route_label(request)
    metrics.requests_total.labels(route=route, code=str(response.status)).inc()
    metrics.request_duration_seconds.observe(seconds)
    fields: dict[str, object] = {
        "request_id": request[REQUEST_ID],
        "method": request.method,
        "route": route,
        "status": response.status,
        "duration_s": round(seconds, 4),
    }
    audio_seconds = request.get(AUDIO_SECONDS)
    if audio_seconds:
        metrics.audio_seconds_total.inc(audio_seconds)
        metrics.realtime_factor.observe(seconds / audio_seconds)
        fields["audio_seconds"] = round(audio_seconds, 3)
        fields["rtf"] = round(seconds / audio_seconds, 4)
    request_log.info("request", extra=fields)
