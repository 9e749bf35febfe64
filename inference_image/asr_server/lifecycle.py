"""The server's lifecycle: the engine loads after startup (the socket is open at once and
`/readyz` says 503 until the model is ready), and SIGTERM drains (readiness 503 and new work
refused at once, open streams finalised, in-flight work finished; docs/architecture.md,
"Inference server")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from asr_server.keys import DATAPLANE, ENGINE, SCHEDULER, STATE, STREAMS

log = logging.getLogger("asr_server.app")


async def engine_and_scheduler(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: load the engine and start the data plane's workers in the background;
    on cleanup, stop them (what is still queued gets `Draining`)."""
    state, engine, dataplane = app[STATE], app[ENGINE], app[DATAPLANE]

    async def load() -> None:
        try:
            seconds = await dataplane.start()
        except Exception as exc:  # reported by /readyz; `serve` exits non-zero on it
            state.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model load failed")
            return
        log.info(
            "model loaded",
            extra={"model": engine.info.name, "device": engine.info.device, "seconds": seconds},
        )

    state.load_task = asyncio.create_task(load(), name="asr-model-load")
    yield
    if not state.load_task.done():
        state.load_task.cancel()
    await dataplane.stop()


async def streams(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: a drain finalises the open streams; a stopping app admits no new one."""
    hub = app[STREAMS]
    app[STATE].on_drain.append(hub.drain)
    yield
    hub.close()


async def drain(app: web.Application, grace_s: float) -> bool:
    """Stop taking work and wait for in-flight requests and streams, at most `grace_s`.

    Order: readiness 503 and new work refused at once, then drain hooks (streams finalise)
    while in-flight work finishes. True when everything finished."""
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
