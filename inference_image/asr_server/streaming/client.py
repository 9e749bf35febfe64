"""A streaming client: sends PCM16 frames paced like live audio and collects what comes back.

Used by `asr-server stream`, the streaming tests and `bench/streaming.py`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from asr_server.types import SAMPLE_RATE


class StreamRefused(Exception):
    """The server answered busy or error before `ready`."""

    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(message.get("message") or f"server said {message.get('type')}")
        self.message = message


@dataclass(frozen=True)
class Received:
    at: float
    """time.monotonic() when the message arrived."""
    message: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.message.get("type"))


@dataclass
class StreamOutcome:
    received: list[Received] = field(default_factory=list)
    started_at: float = 0.0
    """When the first audio frame was sent."""
    eof_at: float | None = None
    """When eof was sent (None if the stream ended before)."""
    audio_seconds: float = 0.0
    behind_s: float = 0.0
    """Most the sender fell behind its real-time schedule (send blocked by the server)."""
    close_code: int | None = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r.message for r in self.received if r.type == kind]

    @property
    def text(self) -> str:
        return " ".join(m["text"] for m in self.of("final") if m["text"]).strip()


OnMessage = Callable[[dict[str, Any]], None]


async def stream_frames(
    url: str,
    frames: Iterable[bytes] | AsyncIterable[bytes],
    *,
    speed: float = 1.0,
    language: str | None = None,
    hotwords: str | None = None,
    interim_results: bool = True,
    endpointing_ms: int | None = None,
    beam_size: int | None = None,
    on_message: OnMessage | None = None,
    before_eof: Callable[[StreamOutcome], Awaitable[None]] | None = None,
    headers: dict[str, str] | None = None,
) -> StreamOutcome:
    """Stream PCM16 16 kHz mono frames to `url` (ws:// .../v1/stream).

    `speed` 1.0 paces the frames as live audio, 2.0 twice as fast, 0 as fast as possible.
    Raises StreamRefused when the server is busy or rejects the start message."""
    outcome = StreamOutcome()
    start: dict[str, Any] = {"type": "start", "sample_rate": SAMPLE_RATE}
    start["interim_results"] = interim_results
    if language:
        start["language"] = language
    if hotwords:
        start["hotwords"] = hotwords
    if endpointing_ms is not None:
        start["endpointing_ms"] = endpointing_ms
    if beam_size is not None:
        start["beam_size"] = beam_size
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.ws_connect(url, max_msg_size=0, autoping=True) as ws,
    ):
        await ws.send_str(json.dumps(start))
        first = await ws.receive()
        if first.type != aiohttp.WSMsgType.TEXT:
            raise StreamRefused({"type": "closed", "message": f"server closed ({ws.close_code})"})
        hello = json.loads(first.data)
        if hello.get("type") != "ready":
            raise StreamRefused(hello)

        async def read() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                outcome.received.append(Received(time.monotonic(), data))
                if on_message is not None:
                    on_message(data)

        reader = asyncio.create_task(read())
        try:
            await _send_paced(ws, frames, speed, outcome)
            if before_eof is not None:
                await before_eof(outcome)
            if not ws.closed:
                outcome.eof_at = time.monotonic()
                await ws.send_str(json.dumps({"type": "eof"}))
            await reader
        finally:
            reader.cancel()
        outcome.close_code = ws.close_code
    return outcome


async def _send_paced(
    ws: aiohttp.ClientWebSocketResponse,
    frames: Iterable[bytes] | AsyncIterable[bytes],
    speed: float,
    outcome: StreamOutcome,
) -> None:
    sent_samples = 0
    async for frame in _aiter(frames):
        if ws.closed:
            return
        now = time.monotonic()
        if sent_samples == 0:
            outcome.started_at = now
        elif speed > 0:
            due = outcome.started_at + sent_samples / SAMPLE_RATE / speed
            if due > now:
                await asyncio.sleep(due - now)
            else:
                outcome.behind_s = max(outcome.behind_s, now - due)
        try:
            await ws.send_bytes(frame)
        except ConnectionError:
            return
        sent_samples += len(frame) // 2
        outcome.audio_seconds = sent_samples / SAMPLE_RATE


async def _aiter(frames: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    if isinstance(frames, AsyncIterable):
        async for frame in frames:
            yield frame
    else:
        for frame in frames:
            yield frame
