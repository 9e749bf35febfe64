"""Every typed key of the aiohttp application and its requests, and the server's lifecycle state.

`app.create_app` fills the application keys; routes, the middleware and the lifecycle read
them from here (never from `app.py`, which imports the routes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from asr_server.bodies import BodyBudget
from asr_server.config import ServerConfig
from asr_server.dataplane import DataPlane, Usage
from asr_server.engines.base import ASREngine
from asr_server.fields import FieldContext
from asr_server.metrics import Metrics
from asr_server.scheduler import Scheduler
from asr_server.streaming.hub import StreamHub

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
    """Awaited when draining starts, e.g. the stream hub's, to finalise open streams."""

    def __post_init__(self) -> None:
        self.idle.set()


CONFIG = web.AppKey("config", ServerConfig)
ENGINE = web.AppKey("engine", ASREngine)
DATAPLANE = web.AppKey("dataplane", DataPlane)
SCHEDULER = web.AppKey("scheduler", Scheduler)
"""The data plane's scheduler (readiness, /v1/models)."""
METRICS = web.AppKey("metrics", Metrics)
STREAMS = web.AppKey("streams", StreamHub)
STATE = web.AppKey("state", ServerState)
BODIES = web.AppKey("bodies", BodyBudget)
"""The bytes of request bodies the server may hold at once (the middleware charges them)."""
FIELDS = web.AppKey("fields", FieldContext)
"""What validating a request's options needs (the server's language, the model's)."""

REQUEST_ID = web.RequestKey("request_id", str)
USAGE = web.RequestKey("usage", Usage)
"""What the request recognised (the data plane adds to it): logged and counted."""
