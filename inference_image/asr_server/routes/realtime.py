"""`GET /v1/realtime?intent=transcription`: OpenAI's Realtime API, transcription mode, over
WebSocket (docs/streaming.md, "OpenAI Realtime transcription").

The shape of the session events follows the client: the beta's (`transcription_session.*`)
when it sends `OpenAI-Beta: realtime=v1`, as the openai package's `client.beta.realtime` does,
else GA's (`session.*` with `session.type: "transcription"`). The protocol lives in
`asr_server.streaming.realtime`; this module checks the intent and wires the socket to it.
"""

from __future__ import annotations

from aiohttp import web

from asr_server import errors
from asr_server.keys import STREAMS
from asr_server.streaming.realtime.connection import MAX_MESSAGE_BYTES, RealtimeConnection
from asr_server.streaming.realtime.events import Shape

INTENT = "transcription"


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/realtime", handle_realtime)


async def handle_realtime(request: web.Request) -> web.WebSocketResponse:
    intent = request.query.get("intent")
    if intent != INTENT:
        raise errors.BadRequest(
            f"this server serves only transcription sessions: connect with ?intent={INTENT}"
            + (f" (got intent={intent[:40]!r})" if intent else "")
            + "; it has no conversation sessions, responses or audio output",
            code="unsupported_intent",
        )
    beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "")
    shape: Shape = "beta" if beta else "ga"
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    await RealtimeConnection(ws, request.app[STREAMS], shape).serve()
    return ws
