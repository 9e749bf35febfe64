"""The listening socket: aiohttp's runner (request decompression off) behind a cap on open
connections.

`ASR_MAX_CONNECTIONS` bounds what the pod holds for clients whatever they do (idle
keep-alive connections, slow uploads, streams): connection N+1 is answered
`503 too_many_connections` with `Retry-After`, its bytes read and dropped for a moment so the
answer is not lost to a reset, and closed. `asr-server serve` and the tests' servers both
listen through `listen()`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from aiohttp import web

from asr_server import errors
from asr_server.keys import CONFIG, METRICS
from asr_server.metrics import Metrics

log = logging.getLogger("asr_server.listen")

REFUSAL_LINGER_S = 2.0
"""How long a refused connection's request bytes are read and dropped before it closes."""
RETRY_AFTER_S = 1


def refusal_bytes(limit: int) -> bytes:
    """The whole HTTP answer to a connection over the cap."""
    error = errors.TooManyConnections(
        f"the server holds its maximum of {limit} open connections (max_connections); "
        "retry shortly or on another replica"
    )
    body = json.dumps(errors.error_body(error)).encode()
    head = (
        f"HTTP/1.1 {errors.http_status(error)} Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionLimit:
    """A protocol factory around aiohttp's: at most `limit` connections at a time."""

    def __init__(self, factory: web.Server, limit: int, metrics: Metrics) -> None:
        self._factory = factory
        self.limit = limit
        self.open = 0
        self._metrics = metrics
        self._refusal = refusal_bytes(limit)

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self.limit:
            self._metrics.refused_connections_total.inc()
            return _Refused(self._refusal)
        return _Counted(self, self._factory())

    def opened(self) -> None:
        self.open += 1
        self._metrics.open_connections.set(self.open)

    def closed(self) -> None:
        self.open -= 1
        self._metrics.open_connections.set(self.open)


class _Counted(asyncio.Protocol):
    """aiohttp's protocol, counted while its connection is open."""

    def __init__(self, limit: ConnectionLimit, inner: asyncio.Protocol) -> None:
        self._limit = limit
        self._inner = inner
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._limit.opened()
        self._counted = True
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._counted = False
            self._limit.closed()
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _Refused(asyncio.Protocol):
    """Answers 503 at once, then drops what the client sends until it closes or a moment
    passed (closing with unread bytes would reset the connection and lose the answer)."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self._answer)
        if transport.can_write_eof():
            transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(REFUSAL_LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


@dataclass
class Listener:
    """A running server socket; `close()` stops it and the app."""

    runner: web.AppRunner
    server: asyncio.Server
    limit: ConnectionLimit

    @property
    def port(self) -> int:
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        self.server.close()
        await self.runner.cleanup()


async def listen(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0
) -> Listener:
    """Start `app` on host:port (0: any free port) behind the connection cap."""
    # auto_decompress off: a compressed body is never inflated, not even while aiohttp
    # discards what a refused request left unread (routes/body.py answers it 415).
    runner = web.AppRunner(
        app, handle_signals=False, shutdown_timeout=shutdown_timeout, auto_decompress=False
    )
    await runner.setup()
    assert runner.server is not None
    limit = ConnectionLimit(runner.server, app[CONFIG].max_connections, app[METRICS])
    server = await asyncio.get_running_loop().create_server(limit, host, port, reuse_address=True)
    return Listener(runner, server, limit)
