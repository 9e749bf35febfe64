"""The official openai client's realtime connection driven the way an application would: PCM16
appended in 100 ms chunks at real-time pace, every server event recorded with its arrival
time. Used by the realtime tests and bench/streaming.py."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper import decode_audio
from openai import AsyncOpenAI

from support.pcm import to_pcm16

OPENAI_RATE = 24_000
CHUNK_MS = 100
"""Audio per input_audio_buffer.append."""


def load_24k_pcm16(path: str, *, tail_s: float = 0.0) -> bytes:
    """A file as OpenAI's input format (24 kHz mono PCM16), plus `tail_s` of silence."""
    samples: npt.NDArray[np.float32] = decode_audio(path, sampling_rate=OPENAI_RATE)
    return to_pcm16(samples) + b"\0\0" * int(tail_s * OPENAI_RATE)


def ga_session(**transcription: Any) -> dict[str, Any]:
    """A GA session.update body with server VAD (`turn_detection=None` for commits)."""
    turn_detection = transcription.pop("turn_detection", {"type": "server_vad"})
    return {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": OPENAI_RATE},
                "transcription": {"model": "whisper-1", **transcription},
                "turn_detection": turn_detection,
            }
        },
    }


def client_for(http_url: str, api_key: str = "none") -> AsyncOpenAI:
    """The official client pointed at an asr-server (plain ws:// for the beta's connect)."""
    ws_url = http_url.replace("http://", "ws://").replace("https://", "wss://")
    return AsyncOpenAI(
        base_url=f"{http_url}/v1", websocket_base_url=f"{ws_url}/v1", api_key=api_key
    )


@dataclass
class RealtimeOutcome:
    events: list[tuple[float, Any]] = field(default_factory=list)
    """(time.monotonic() at arrival, the client's parsed event)."""
    started_at: float = 0.0
    """When the first append was sent."""
    behind_s: float = 0.0
    """How late the latest append left against real-time pace (the server reading slowly)."""

    def of(self, kind: str) -> list[Any]:
        return [event for _, event in self.events if event.type == kind]

    def at(self, kind: str, item_id: str) -> float | None:
        """Arrival of the first `kind` event of `item_id`."""
        for arrived, event in self.events:
            if event.type == kind and getattr(event, "item_id", None) == item_id:
                return arrived
        return None

    @property
    def completed(self) -> list[Any]:
        return self.of("conversation.item.input_audio_transcription.completed")

    @property
    def text(self) -> str:
        return " ".join(e.transcript for e in self.completed if e.transcript).strip()

    def deltas(self, item_id: str) -> str:
        return "".join(
            e.delta or ""
            for e in self.of("conversation.item.input_audio_transcription.delta")
            if e.item_id == item_id
        )

    def open_items(self) -> set[str]:
        started = {e.item_id for e in self.of("input_audio_buffer.speech_started")}
        committed = {e.item_id for e in self.of("input_audio_buffer.committed")}
        finished = {e.item_id for e in self.completed} | {
            e.item_id for e in self.of("conversation.item.input_audio_transcription.failed")
        }
        return (started | committed) - finished


async def stream_openai(
    http_url: str,
    pcm: bytes,
    *,
    session: dict[str, Any] | None = None,
    beta: bool = False,
    speed: float = 1.0,
    commit_after_s: Sequence[float] = (),
    wait_s: float = 120.0,
) -> RealtimeOutcome:
    """Stream 24 kHz PCM16 `pcm` through the official client (`client.beta.realtime` or
    `client.realtime`), committing after each of `commit_after_s` seconds of audio, then wait
    (up to `wait_s`) until every item the server announced has its transcript."""
    query = {"intent": "transcription"}
    outcome = RealtimeOutcome()
    chunk = OPENAI_RATE * 2 * CHUNK_MS // 1000
    commits = sorted(int(s * OPENAI_RATE) * 2 for s in commit_after_s)
    async with client_for(http_url) as client:
        manager: Any = (
            client.beta.realtime.connect(model="whisper-1", extra_query=query)
            if beta
            else client.realtime.connect(extra_query=query)
        )
        async with manager as connection:

            async def read() -> None:
                async for event in connection:
                    outcome.events.append((time.monotonic(), event))

            reader = asyncio.create_task(read())
            try:
                if session is not None:
                    if beta:
                        await connection.transcription_session.update(session=session)
                    else:
                        await connection.session.update(session=session)
                outcome.started_at = time.monotonic()
                for offset in range(0, len(pcm), chunk):
                    piece = pcm[offset : offset + chunk]
                    audio = base64.b64encode(piece).decode()
                    await connection.input_audio_buffer.append(audio=audio)
                    while commits and commits[0] <= offset + len(piece):
                        commits.pop(0)
                        await connection.input_audio_buffer.commit()
                    if speed > 0:
                        sent_s = (offset + len(piece)) / 2 / OPENAI_RATE
                        due = outcome.started_at + sent_s / speed
                        outcome.behind_s = max(outcome.behind_s, time.monotonic() - due)
                        await asyncio.sleep(max(0.0, due - time.monotonic()))
                await asyncio.sleep(0.2)
                for _ in range(int(wait_s / 0.05)):
                    if not outcome.open_items():
                        break
                    await asyncio.sleep(0.05)
            finally:
                reader.cancel()
    return outcome
