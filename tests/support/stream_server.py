"""A real asr-server (aiohttp on a real socket) in a background thread, for streaming tests.

The server runs on its own event loop so clients in the test's loop talk to it over TCP like
any other client, and the test can still look inside (tasks, metrics, hub) between streams.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from aiohttp import web
from asr_server.app import create_app
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine
from asr_server.engines.registry import create_engine
from asr_server.keys import STATE, STREAMS
from asr_server.listen import Listener, listen
from asr_server.streaming.hub import StreamHub

T = TypeVar("T")


def make_engine(config: ServerConfig) -> ASREngine:
    """The real engine for `config` (faster-whisper; catalogue models prepared offline)."""
    return create_engine(config)


class ServerThread:
    def __init__(self, config: ServerConfig, engine: ASREngine) -> None:
        self.config = config
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.app: web.Application | None = None
        self.listener: Listener | None = None
        self.port = 0

    def start(self) -> ServerThread:
        self._thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        app = create_app(self.config, self.engine)
        self.app = app
        self.listener = await listen(app, "127.0.0.1", 0)
        self.port = self.listener.port
        load = app[STATE].load_task
        assert load is not None
        await load  # model loaded and scheduler started
        assert app[STATE].load_error is None, app[STATE].load_error

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/stream"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub(self) -> StreamHub:
        assert self.app is not None
        return self.app[STREAMS]

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def run(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.call(wrapper())

    def task_names(self) -> list[str]:
        """Names of the tasks alive on the server loop (other than the asking one)."""

        async def names() -> list[str]:
            me = asyncio.current_task()
            return sorted(t.get_name() for t in asyncio.all_tasks() if t is not me)

        return self.call(names())

    def set_limits(self, **changes: Any) -> None:
        hub = self.hub
        self.run(lambda: setattr(hub, "limits", dataclasses.replace(hub.limits, **changes)))

    def stop(self) -> None:
        if self.listener is not None:
            self.call(self.listener.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
