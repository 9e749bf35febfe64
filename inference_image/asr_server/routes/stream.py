"""`GET /v1/stream`: live recognition over WebSocket (protocol in docs/streaming.md).

The app's one StreamHub (built in `app.create_app`) admits the stream and sends its decodes
through the data plane; the stream logic lives in `asr_server.streaming`. This module only
wires a WebSocket to it.
"""

from __future__ import annotations

from aiohttp import web

from asr_server.keys import STREAMS
from asr_server.streaming.connection import StreamConnection
from asr_server.streaming.socket import StreamSocket


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/stream", handle_stream)


async def handle_stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[STREAMS]
    ws = StreamSocket(
        max_frame_bytes=hub.limits.max_frame_bytes, heartbeat=30.0, transport=request.transport
    )
    await ws.prepare(request)
    await StreamConnection(ws, hub).serve()
    return ws
