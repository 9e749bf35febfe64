"""One WebSocket connection driven through the protocol: admission, start, frames, eof,
limits, client disconnect and server drain. `routes/stream.py` only wires this to aiohttp."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from asr_server.streaming.hub import BUSY_RETRY_AFTER_S, StreamHub
from asr_server.streaming.protocol import (
    Busy,
    EofMessage,
    Error,
    ProtocolError,
    Ready,
    ServerMessage,
    StartMessage,
    parse_client_text,
)
from asr_server.streaming.session import StreamSession
from asr_server.streaming.socket import StreamSocket, close_quietly, send_if_open

log = logging.getLogger(__name__)

_GONE = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


class StreamConnection:
    def __init__(self, ws: web.WebSocketResponse, hub: StreamHub) -> None:
        self.ws = ws
        self.hub = hub
        self.session: StreamSession | None = None
        self._closing = False
        self._drain_task: asyncio.Task[None] | None = None

    async def send(self, message: ServerMessage) -> None:
        await send_if_open(self.ws, message.to_json())

    async def serve(self) -> None:
        if not self.hub.try_admit(self, self._drain):
            if self.hub.draining:
                await self._fail(ProtocolError("draining", "server shutting down"), 1001)
            else:
                await self.send(Busy(retry_after=BUSY_RETRY_AFTER_S))
                await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"busy")
            return
        try:
            await self._receive_loop()
        finally:
            if self._drain_task is not None:
                await asyncio.shield(self._drain_task)
            elif self.session is not None:
                await self.session.abort()  # client gone or protocol error: drop the work
            seconds = self.session.seconds if self.session is not None else 0.0
            self.hub.release(self, seconds)

    async def _receive_loop(self) -> None:
        limits = self.hub.limits
        while True:
            try:
                msg = await self.ws.receive(timeout=limits.idle_timeout_s)
            except TimeoutError:
                await self._finish_with_error(
                    ProtocolError("idle_timeout", f"no data for {limits.idle_timeout_s:g} s")
                )
                return
            if self._closing:
                return
            try:
                if isinstance(self.ws, StreamSocket) and self.ws.oversized:
                    raise ProtocolError(
                        "frame_too_large",
                        f"frames are limited to {limits.max_frame_bytes} bytes",
                    )
                if msg.type in _GONE:
                    return
                if msg.type == WSMsgType.BINARY:
                    self._on_audio(msg.data)
                elif msg.type == WSMsgType.TEXT and not await self._on_text(msg.data):
                    return
            except ProtocolError as exc:
                if self.session is None:
                    await self._fail(exc, WSCloseCode.POLICY_VIOLATION)
                else:
                    await self._finish_with_error(exc)
                return

    async def _on_text(self, text: str) -> bool:
        message = parse_client_text(text, self.hub.fields)
        if isinstance(message, StartMessage):
            if self.session is not None:
                raise ProtocolError("already_started", "start was already sent")
            self.session = StreamSession(
                message,
                self.hub.limits.settings_for(message),
                self.hub.decode,
                self.send,
                observer=self.hub.observer("stream"),
                language=self.hub.language,
                streams=lambda: self.hub.active,
                first_partials=self.hub.first_partials,
            )
            self.session.start()
            await self.send(Ready())
            return True
        assert isinstance(message, EofMessage)
        if self.session is None:
            raise ProtocolError("not_started", "eof before start")
        await self.session.finish()
        await self._close(WSCloseCode.OK)
        return False

    def _on_audio(self, data: bytes) -> None:
        limits = self.hub.limits
        if self.session is None:
            raise ProtocolError("not_started", "send a start message before audio")
        if len(data) > limits.max_frame_bytes:
            raise ProtocolError(
                "frame_too_large", f"binary frames are limited to {limits.max_frame_bytes} bytes"
            )
        self.session.feed(data)
        if self.session.seconds > limits.max_stream_seconds:
            raise ProtocolError(
                "stream_too_long", f"streams are limited to {limits.max_stream_seconds:g} s"
            )

    async def _finish_with_error(self, exc: ProtocolError) -> None:
        """Report, finalise what was heard, then close (a limit, not a broken client)."""
        await self.send(Error(exc.code, exc.message))
        if self.session is not None:
            await self.session.finish()
        await self._close(WSCloseCode.POLICY_VIOLATION)

    async def _fail(self, exc: ProtocolError, code: int) -> None:
        await self.send(Error(exc.code, exc.message))
        await self._close(code)

    async def _close(self, code: int) -> None:
        self._closing = True
        await close_quietly(self.ws, code)

    def _drain(self) -> asyncio.Task[None]:
        """Called by the hub on SIGTERM: finalise open utterances, then close with 1001."""
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain_now(), name="asr-stream-drain")
        return self._drain_task

    async def _drain_now(self) -> None:
        self._closing = True
        if self.session is not None:
            await self.session.finish()
        await self._close(WSCloseCode.GOING_AWAY)
