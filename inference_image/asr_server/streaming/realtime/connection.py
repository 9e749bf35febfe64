"""One `/v1/realtime` WebSocket: admitted by the server's StreamHub like a `/v1/stream` stream
(the same `ASR_MAX_STREAMS`, decodes, drain), events in, events out in order.

A bad event gets an `error` event and the session goes on. The limits end it as `/v1/stream`'s
do, mapped onto `error` events: a full server sends `server_busy` and closes 1013; nothing
received for `ASR_STREAM_IDLE_TIMEOUT_S` (`idle_timeout`) or more audio than
`ASR_STREAM_MAX_SECONDS` (`stream_too_long`) commits the speech in the buffer, sends its
transcripts and closes 1008; SIGTERM does the same with `server_shutting_down` and 1001. A
client that goes away cancels its work.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from asr_server.streaming.hub import BUSY_RETRY_AFTER_S, StreamHub
from asr_server.streaming.realtime.config import SessionConfig
from asr_server.streaming.realtime.events import (
    AppendAudio,
    ClearAudio,
    CommitAudio,
    RealtimeError,
    SessionUpdate,
    Shape,
    parse_client_event,
)
from asr_server.streaming.realtime.items import RealtimeSession
from asr_server.streaming.realtime.server_events import ServerEvents, new_id
from asr_server.streaming.socket import close_quietly, send_if_open

log = logging.getLogger(__name__)

MAX_EVENT_CHARS = 1024 * 1024
"""Largest client event read (an append of about 16 s of 24 kHz audio); a larger one gets
`event_too_large` and is dropped. OpenAI allows 15 MiB, but one event's VAD and resampling run
on the event loop, so clients stream in chunks (20-200 ms is typical)."""
MAX_MESSAGE_BYTES = 4 * MAX_EVENT_CHARS
"""aiohttp's own cap, above ours so an oversized event gets an error event; beyond it the
socket closes with 1009."""

_GONE = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


class RealtimeConnection:
    def __init__(self, ws: web.WebSocketResponse, hub: StreamHub, shape: Shape) -> None:
        self.ws = ws
        self.hub = hub
        self.shape = shape
        self.session: RealtimeSession | None = None
        self._outbox: asyncio.Queue[str | asyncio.Event | None] = asyncio.Queue()
        """Server events in order; an Event is set when the sender reaches it; None stops."""
        self._closing = False
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        if not self.hub.try_admit(self, self._drain):
            events = ServerEvents(new_id("sess"))
            if self.hub.draining:
                refusal = RealtimeError(
                    "the server is shutting down; connect to another replica",
                    code="server_shutting_down",
                    type="server_error",
                )
                code = WSCloseCode.GOING_AWAY
            else:
                refusal = RealtimeError(
                    f"server busy: every stream slot is taken; retry in {BUSY_RETRY_AFTER_S:g} s",
                    code="server_busy",
                    type="server_error",
                )
                code = WSCloseCode.TRY_AGAIN_LATER
            await self._send(events.error(refusal))
            await self._close(code)
            return
        sender = asyncio.create_task(self._send_all(), name="asr-realtime-sender")
        try:
            self.session = RealtimeSession(
                self.hub,
                SessionConfig.defaults(self.hub.limits.session),
                self.shape,
                self._outbox.put_nowait,
            )
            await self._receive_loop()
        finally:
            if self._drain_task is not None:
                await asyncio.shield(self._drain_task)
            elif self.session is not None and not self._closing:
                await self.session.abort()  # client gone: drop the work
            self._outbox.put_nowait(None)
            await sender
            self.hub.release(self, self.session.seconds if self.session is not None else 0.0)

    async def _receive_loop(self) -> None:
        limits = self.hub.limits
        while True:
            try:
                msg = await self.ws.receive(timeout=limits.idle_timeout_s)
            except TimeoutError:
                await self._finish(
                    RealtimeError(f"no event for {limits.idle_timeout_s:g} s", code="idle_timeout"),
                    WSCloseCode.POLICY_VIOLATION,
                )
                return
            if msg.type in _GONE or self._closing:
                return
            if msg.type == WSMsgType.TEXT:
                if not await self._on_text(msg.data):
                    return
            elif msg.type == WSMsgType.BINARY:
                self._error(
                    RealtimeError(
                        "binary frames are not part of this protocol: send audio as base64 in "
                        "input_audio_buffer.append events",
                        code="invalid_frame",
                    )
                )

    async def _on_text(self, text: str) -> bool:
        """Handle one event; False when the session has ended."""
        session = self.session
        assert session is not None
        if len(text) > MAX_EVENT_CHARS:
            self._error(
                RealtimeError(
                    f"the event is {len(text)} characters long; events are limited to "
                    f"{MAX_EVENT_CHARS} (append audio in chunks)",
                    code="event_too_large",
                )
            )
            return True
        try:
            event = parse_client_event(text, session.config, self.hub.fields)
            if isinstance(event, AppendAudio):
                session.append(event.audio)
            elif isinstance(event, CommitAudio):
                session.commit(event.event_id)
            elif isinstance(event, ClearAudio):
                session.clear()
            elif isinstance(event, SessionUpdate):
                session.update(event.config, event.shape, event.event_id)
        except RealtimeError as exc:
            self._error(exc)
            return True
        limit = self.hub.limits.max_stream_seconds
        if session.seconds > limit:
            await self._finish(
                RealtimeError(f"streams are limited to {limit:g} s", code="stream_too_long"),
                WSCloseCode.POLICY_VIOLATION,
            )
            return False
        return True

    def _error(self, exc: RealtimeError) -> None:
        assert self.session is not None
        log.info("realtime event refused: %s (%s)", exc.message, exc.code)
        self._outbox.put_nowait(self.session.events.error(exc))

    async def _finish(self, reason: RealtimeError, code: int) -> None:
        """A limit or drain: report it, commit and transcribe what was heard, then close."""
        assert self.session is not None
        self._closing = True
        self._error(reason)
        await self.session.finish()
        await self._flushed()
        await self._close(code)

    async def _flushed(self) -> None:
        """Wait until every queued event has been written to the socket (or it is gone)."""
        reached = asyncio.Event()
        self._outbox.put_nowait(reached)
        await reached.wait()

    async def _send_all(self) -> None:
        while True:
            item = await self._outbox.get()
            if item is None:
                return
            if isinstance(item, asyncio.Event):
                item.set()
            else:
                await self._send(item)

    async def _send(self, text: str) -> None:
        await send_if_open(self.ws, text)

    async def _close(self, code: int) -> None:
        self._closing = True
        await close_quietly(self.ws, code)

    def _drain(self) -> asyncio.Task[None]:
        """Called by the hub on SIGTERM: commit and transcribe the buffer, close with 1001."""
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain_now(), name="asr-realtime-drain")
        return self._drain_task

    async def _drain_now(self) -> None:
        if self.session is None or self._closing:
            return
        await self._finish(
            RealtimeError(
                "the server is shutting down; the speech received was transcribed",
                code="server_shutting_down",
                type="server_error",
            ),
            WSCloseCode.GOING_AWAY,
        )
