"""The aiohttp application factory: `create_app(config, engine=None)`.

It builds every resource under its typed key (keys.py): the engine (from the registry unless
one is given), the data plane with its cache and scheduler, the metrics, the stream hub and the
lifecycle state; the resources that start and stop with the app do so in `cleanup_ctx`
(lifecycle.py). Then each route module adds its routes. Routes never import this module.
"""

from __future__ import annotations

from aiohttp import web

from asr_server import lifecycle, middleware
from asr_server.bodies import BodyBudget
from asr_server.config import ServerConfig
from asr_server.dataplane import DataPlane
from asr_server.engines.base import ASREngine, HasStreamQuality
from asr_server.engines.registry import create_engine
from asr_server.fields import FieldContext
from asr_server.keys import (
    BODIES,
    CONFIG,
    DATAPLANE,
    ENGINE,
    FIELDS,
    METRICS,
    SCHEDULER,
    STATE,
    STREAMS,
    ServerState,
)
from asr_server.metrics import Metrics
from asr_server.routes import asrt, openai, ops, realtime, recognize, stream
from asr_server.streaming.hub import StreamHub, StreamLimits
from asr_server.streaming.quality import PLAIN

ROUTES = (ops, openai, recognize, asrt, stream, realtime)

HANDLER_ARGS = {
    "access_log": None,
    # A client that disconnects cancels its handler, so its queued work leaves the queue.
    "handler_cancellation": True,
    # Content-Encoding bodies are refused (routes/body.py), never inflated by aiohttp.
    "auto_decompress": False,
}


def create_app(config: ServerConfig, engine: ASREngine | None = None) -> web.Application:
    if engine is None:
        engine = create_engine(config)
    body_limit = int(config.max_body_mb * 2**20)
    app = web.Application(
        client_max_size=body_limit,
        middlewares=[middleware.observe],
        handler_args=HANDLER_ARGS,
    )
    metrics = Metrics.create()
    dataplane = DataPlane(config, engine, metrics)
    metrics.saturated.set_function(lambda: float(dataplane.scheduler.refusing))
    quality = engine.stream_quality() if isinstance(engine, HasStreamQuality) else PLAIN
    fields = FieldContext(config.language, lambda: engine.info.languages)
    app[CONFIG] = config
    app[ENGINE] = engine
    app[METRICS] = metrics
    app[STATE] = ServerState()
    app[BODIES] = BodyBudget(
        int(config.bodies_budget_mb * 2**20), body_limit, metrics.request_body_bytes
    )
    app[DATAPLANE] = dataplane
    app[SCHEDULER] = dataplane.scheduler
    app[FIELDS] = fields
    app[STREAMS] = StreamHub(StreamLimits.from_config(config, quality), dataplane, metrics, fields)
    app.cleanup_ctx.extend([lifecycle.engine_and_scheduler, lifecycle.streams])
    for module in ROUTES:
        module.setup(app)
    return app
