"""The stream's WebSocket: aiohttp's, with the frame limit reported by the protocol.

aiohttp refuses a frame over `max_msg_size` from its header (nothing of it is buffered) and
then closes at once with 1009 from inside `receive()`, so the client would never hear why. Here
that close is held back: `receive()` returns the error, `oversized` is set, and the
connection reports `frame_too_large`, finalises what was heard and closes itself (the
documented order, docs/streaming.md). Behaviour of aiohttp's `receive()` this relies on (it
calls `close(code=1009)`) is pinned by the version in requirements/constraints.txt and
tested in tests/integration/asr_server/test_stream_protocol.py.

The rest of such a frame is still on its way when the server closes; that close lingers
(`listen.linger_on_close`: up to `LINGER_FRAMES` frame limits are read and dropped) so the
kernel does not answer the unread bytes with a reset that loses the error and close frame.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

from asr_server.listen import linger_on_close

LINGER_FRAMES = 256
"""After an over-limit frame, how many frame limits of it are read and dropped at most."""


class StreamSocket(web.WebSocketResponse):
    def __init__(
        self, *, max_frame_bytes: int, heartbeat: float, transport: asyncio.BaseTransport | None
    ) -> None:
        # aiohttp refuses a frame of max_msg_size bytes or more
        super().__init__(heartbeat=heartbeat, max_msg_size=max_frame_bytes + 1)
        self.max_frame_bytes = max_frame_bytes
        self.oversized = False
        """A frame over the limit arrived; nothing more can be read."""
        self._connection_transport = transport
        """The request's transport (`request.transport`), for the lingering close."""

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not self.oversized:
            self.oversized = True
            return False
        if self.oversized:
            linger_on_close(self._connection_transport, LINGER_FRAMES * self.max_frame_bytes)
        return await super().close(code=code, message=message, drain=drain)


async def send_if_open(ws: web.WebSocketResponse, text: str) -> None:
    """Send, unless the client is gone (a vanished client is not an error for a stream)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(text)


async def close_quietly(ws: web.WebSocketResponse, code: int) -> None:
    """Close with `code`; a client already gone makes this a no-op, not an error."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=code)
