"""A stream's settings and the utterances its endpointer cuts (see session.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from asr_server.engines.base import StreamQuality
from asr_server.streaming.protocol import Final
from asr_server.streaming.quality import PLAIN
from asr_server.streaming.vad import EndpointSettings
from asr_server.types import SAMPLE_RATE, Audio, Transcription


@dataclass(frozen=True)
class StreamSettings:
    partial_interval_s: float = 0.5
    """New audio in the open utterance between two partial decodes."""
    max_utterance_s: float = 20.0
    """An utterance this long is cut and finalised even without a pause (Whisper sees 30 s)."""
    quality: StreamQuality = PLAIN
    """The engine's stream-quality policy: the options of each kind of decode, and which
    finals are decoded twice (the engine's own, engines/base.HasStreamQuality, else PLAIN)."""
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    early_finals: bool = True
    """Decode a final in a pause before the endpointer confirms it (session.py); off where
    pauses do not end utterances (a client commits them), where most such decodes would be
    thrown away."""


@dataclass
class Early:
    """A final decoded before the endpointer confirmed the end (see session.py)."""

    start: int
    end: int
    audio: Audio
    since: float
    """Clock time the audio of its end of speech arrived (the scheduler's `since`)."""
    task: asyncio.Future[Transcription | None] | None = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


@dataclass(frozen=True)
class Utterance:
    segment_id: int
    start: int
    """Absolute sample offset in the stream."""
    end: int
    audio: Audio
    closed_at: float
    """Clock time the audio at `end` arrived: the end of speech as the client lived it."""
    early: Early | None = None
    """The early decode of exactly this audio, when one was started."""

    def final_message(self, result: Transcription) -> Final:
        return Final(
            text=result.text.strip(),
            segment_id=self.segment_id,
            start=round(self.start / SAMPLE_RATE, 3),
            end=round(self.end / SAMPLE_RATE, 3),
            confidence=round(result.confidence, 4),
        )
