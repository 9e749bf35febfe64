"""`GET /v1/stream`: live recognition over WebSocket (protocol in docs/streaming.md).

Every decode goes through the app's one scheduler (no model copy per stream); the stream
logic lives in `asr_server.streaming`.
"""

from __future__ import annotations

from aiohttp import web

from asr_server.app import CONFIG, METRICS, SCHEDULER, STATE
from asr_server.engines.base import Audio, TranscribeOptions, Transcription
from asr_server.streaming.connection import StreamConnection
from asr_server.streaming.decoding import FINAL, PARTIAL
from asr_server.streaming.hub import StreamHub, StreamLimits

STREAMS = web.AppKey("streams", StreamHub)


def setup(app: web.Application) -> None:
    scheduler = app[SCHEDULER]

    async def decode(
        audio: Audio, options: TranscribeOptions, kind: str, since: float
    ) -> Transcription:
        # While draining, an open stream's finals still decode (DESIGN.md: streams finish).
        # Partials are best-effort: they queue behind finals and HTTP requests, except a
        # stream's first one, which queues like a request (it tells the speaker they are heard).
        # `since` (the audio's arrival) puts a final that already waited ahead of newer work.
        return await scheduler.submit(
            audio, options, finishing=kind == FINAL, background=kind == PARTIAL, since=since
        )

    config = app[CONFIG]
    limits = StreamLimits.from_config(config)
    hub = StreamHub(limits, decode, app[METRICS], language=config.language)
    app[STREAMS] = hub
    app[STATE].on_drain.append(hub.drain)
    app.router.add_get("/v1/stream", handle_stream)


async def handle_stream(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[STREAMS]
    # aiohttp's own cap sits above ours so an oversized frame gets a protocol error message.
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=hub.limits.max_frame_bytes * 4)
    await ws.prepare(request)
    await StreamConnection(ws, hub).serve()
    return ws
