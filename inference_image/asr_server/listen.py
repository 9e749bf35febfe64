"""The listening socket: aiohttp's runner (request decompression off) behind a cap on open
connections.

`ASR_MAX_CONNECTIONS` bounds what the pod holds for clients whatever they do (idle
keep-alive connections, slow uploads, streams): connection N+1 is answered
`503 too_many_connections` with `Retry-After`, then lingers (below) and is closed.
`asr-server serve` and the tests' servers both listen through `listen()`.

Lingering close: a socket closed with unread bytes in its receive buffer is answered by the
kernel with a reset, and a reset can make the client drop the server's last answer before
reading it. So where the server closes on a client that may still be sending (a refused
connection; a WebSocket frame far over its limit, `linger_on_close`), it reads and drops
what still arrives after its answer until the client closes, `LINGER_S` pass or `max_bytes`
arrived, and only then closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from asr_server import errors
from asr_server.keys import CONFIG, METRICS
from asr_server.metrics import Metrics

log = logging.getLogger("asr_server.listen")

LINGER_S = 3.0
"""How long a lingering close reads and drops what the client still sends."""
REFUSAL_LINGER_BYTES = 16 * 1024 * 1024
"""How much a refused connection may send while it lingers before it is reset."""
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


class _Linger:
    """A lingering close (module doc): read and drop until the client closes, time or bytes.

    `half_close` sends FIN at once (the end of an HTTP answer). A WebSocket does not: its
    client answers the close frame with its own before it closes (RFC 6455 5.5.1), and a FIN
    arriving with the close frame makes clients (aiohttp's among them) fail that answer."""

    def __init__(self, transport: asyncio.Transport, max_bytes: int, *, half_close: bool) -> None:
        self._transport = transport
        self._left = max_bytes
        if half_close and transport.can_write_eof():
            transport.write_eof()  # sent once the answer is flushed
        if not transport.is_reading():
            transport.resume_reading()
        self._timer = asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    def drop(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0:
            self._timer.cancel()
            self._transport.close()

    def cancel(self) -> None:
        self._timer.cancel()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol, counted while its connection is open.

    aiohttp is handed `_ConnectionTransport`, not the socket's transport: aiohttp closes the
    transport itself (for an over-limit WebSocket frame right after the close frame, with the
    rest of the frame unread), and no public aiohttp API delays that close, so a lingering
    close can only be had where the transport's `close()` is called.
    """

    def __init__(self, limit: ConnectionLimit, inner: asyncio.Protocol) -> None:
        self._limit = limit
        self._inner = inner
        self._counted = False
        self.linger_bytes: int | None = None
        """Set by `linger_on_close`: aiohttp's close of this connection lingers."""
        self.linger: _Linger | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._limit.opened()
        self._counted = True
        self._inner.connection_made(_ConnectionTransport(self, transport))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.linger is not None:
            self.linger.cancel()
        if self._counted:
            self._counted = False
            self._limit.closed()
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.linger is not None:
            self.linger.drop(data)
        else:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.linger is not None:
            return None  # the client has closed: so does the transport
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _ConnectionTransport(asyncio.Transport):
    """The socket's transport as aiohttp sees it: the same, but `close()` lingers when
    `linger_on_close` asked for it (and writes after that close are dropped)."""

    def __init__(self, connection: _Counted, transport: asyncio.Transport) -> None:
        super().__init__()
        self.connection = connection
        self._transport = transport

    def close(self) -> None:
        connection = self.connection
        if connection.linger is not None:
            return
        if connection.linger_bytes is None or self._transport.is_closing():
            self._transport.close()
        else:
            connection.linger = _Linger(self._transport, connection.linger_bytes, half_close=False)

    def is_closing(self) -> bool:
        return self.connection.linger is not None or self._transport.is_closing()

    def abort(self) -> None:
        self._transport.abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.connection.linger is None:
            self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        if self.connection.linger is None:
            self._transport.writelines(list_of_data)

    def write_eof(self) -> None:
        if self.connection.linger is None:
            self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


def linger_on_close(transport: asyncio.BaseTransport | None, max_bytes: int) -> bool:
    """Make aiohttp's close of this connection (`request.transport`) a lingering close that
    drops up to `max_bytes` more; False for a connection not accepted by `listen()`."""
    if not isinstance(transport, _ConnectionTransport):
        return False
    transport.connection.linger_bytes = max_bytes
    return True


class _Refused(asyncio.Protocol):
    """Answers 503 at once, then lingers (module doc)."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer
        self._linger: _Linger | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._answer)
        self._linger = _Linger(transport, REFUSAL_LINGER_BYTES, half_close=True)

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:
            self._linger.drop(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()


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
