"""Operational endpoints: /healthz, /readyz, /metrics, /v1/models, /openapi.json."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import asdict
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from asr_server import errors, openapi
from asr_server.keys import CONFIG, ENGINE, METRICS, SCHEDULER, STATE
from asr_server.routes.openai import MODEL_ALIAS


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/openapi.json", openapi_document)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop answers (liveness)."""
    return web.json_response({"status": "ok"})


def unusable_dir(path: Path) -> str | None:
    """Why the server cannot write files in `path` (created if missing), or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".asr-ready-"):
            pass
    except OSError as exc:
        return f"{exc.strerror or type(exc).__name__}"
    return None


def _not_ready_reason(app: web.Application) -> tuple[str, str] | None:
    state, scheduler = app[STATE], app[SCHEDULER]
    if state.load_error:
        return "load_failed", f"model load failed: {state.load_error}"
    if state.draining:
        return "draining", "the server is shutting down"
    if not app[ENGINE].ready or not scheduler.started:
        return "not_ready", "the model is still loading"
    return None


def _unusable_dirs(model_dir: Path) -> tuple[str, str] | None:
    try:
        temp = Path(tempfile.gettempdir())
    except FileNotFoundError as exc:  # TMPDIR, /tmp, /var/tmp, /usr/tmp and the cwd: none usable
        return "temp_dir_unusable", str(exc)
    for what, path in (("temp", temp), ("model", model_dir)):
        problem = unusable_dir(path)
        if problem is not None:
            return f"{what}_dir_unusable", f"the {what} dir {path} is not writable ({problem})"
    return None


async def readyz(request: web.Request) -> web.Response:
    """200 when the server can serve: the model is loaded, it is not draining, and the temp
    and model dirs are writable. A full queue is not unreadiness: it is answered with 429 and
    Retry-After (`asr_saturated`), so a load spike never takes every pod out of the Service."""
    reason = _not_ready_reason(request.app)
    if reason is None:
        reason = await asyncio.to_thread(_unusable_dirs, request.app[CONFIG].model_dir)
    if reason is None:
        return web.json_response({"status": "ready"})
    code, message = reason
    body = {"status": code, **errors.error_body(errors.ASRError(message, code=code))}
    return web.json_response(body, status=503)


async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of every HTTP route (asr_server/openapi.py)."""
    return web.json_response(openapi.document(request.app[ENGINE].info.languages))


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS].registry
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def models(request: web.Request) -> web.Response:
    """OpenAI list shape; the loaded model appears under its own name and as OpenAI's
    `whisper-1` (routes/openai.MODEL_ALIAS)."""
    app = request.app
    info, config, scheduler = app[ENGINE].info, app[CONFIG], app[SCHEDULER]
    entries = [
        {"id": name, "object": "model", "created": 0, "owned_by": "asrfleet"}
        for name in dict.fromkeys((info.name, MODEL_ALIAS))
    ]
    settings = scheduler.settings
    loaded = {k: v for k, v in asdict(info).items() if k != "details"}
    return web.json_response(
        {
            "object": "list",
            "data": entries,
            "loaded": {**loaded, **info.details, "ready": app[ENGINE].ready},
            "batching": {
                "max_batch_size": settings.max_batch_size if settings else config.batch_max_size,
                "max_wait_ms": config.batch_max_wait_ms,
                "configured_max_batch_size": config.batch_max_size,
                "encoder_context": config.encoder_context,
            },
            "admission": {
                "max_concurrency": settings.concurrency if settings else config.max_concurrency,
                "configured_max_concurrency": config.max_concurrency,
                "cpu_limit": settings.cpu_limit if settings else None,
                "max_queue": config.max_queue,
                "queue_depth": scheduler.queue_depth,
                "request_timeout_s": config.request_timeout_s,
                "max_audio_seconds": config.max_audio_seconds,
                "max_body_mb": config.max_body_mb,
                "max_bodies_mb": config.bodies_budget_mb,
                "body_timeout_s": config.body_timeout_s,
                "max_connections": config.max_connections,
            },
            "cache_entries": config.cache_entries,
            "language": config.language,
            "output_script": config.output_script,
        }
    )
