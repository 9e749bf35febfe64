"""Test doubles for StreamSession: a recording stand-in for the scheduler's submit and a
collector of the messages a session emits. `make_session` decodes by the Whisper engine's
stream-quality policy (trimmed context first, the full context for a final that fails), which
the recording decoder plays along with."""

from __future__ import annotations

import asyncio

from asr_server.engines.whisper.options import whisper_options
from asr_server.engines.whisper.quality import WhisperStreamQuality
from asr_server.errors import QueueFull
from asr_server.streaming.decoding import FINAL
from asr_server.streaming.protocol import ServerMessage, StartMessage
from asr_server.streaming.session import StreamSession
from asr_server.streaming.utterance import StreamSettings
from asr_server.types import SAMPLE_RATE, Audio, Segment, TranscribeOptions, Transcription

from support.pcm import frames


class RecordingDecoder:
    """Answers with the decoded length; can hold decodes until released and can fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, bool]] = []
        """(audio seconds, final) per decode."""
        self.kinds: list[str] = []
        self.since: list[float] = []
        """The `since` of each decode: when its audio had arrived."""
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None
        self.fail_finals = 0
        """Fail this many final decodes (early ones included) with QueueFull."""
        self.options: list[TranscribeOptions] = []
        self.overrun_trimmed = False
        """Answer trimmed-context decodes without a prompt with an extra segment placed after
        the audio."""
        self.full_temperature = 0.0
        """The temperature full-context decodes report (as if the fallback had sampled)."""
        self.now = 0.0
        """A fake clock for the session (`clock=lambda: decoder.now`): each decode advances it
        by `decode_seconds`, the time it "takes"."""
        self.decode_seconds = 0.0

    async def __call__(
        self, audio: Audio, options: TranscribeOptions, kind: str, since: float
    ) -> Transcription:
        final = kind == FINAL
        self.now += self.decode_seconds
        self.calls.append((len(audio) / SAMPLE_RATE, final))
        self.kinds.append(kind)
        self.since.append(since)
        self.options.append(options)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if final and self.fail_finals > 0:
                self.fail_finals -= 1
                raise QueueFull("full", retry_after=1)
            seconds = len(audio) / SAMPLE_RATE
            text = f"{seconds:.2f}s"
            context = whisper_options(options).encoder_context
            temperature = self.full_temperature if context == "full" else 0.0
            segments = [Segment(0, 0.0, seconds, text, -0.2, 0.0, 0.8, temperature=temperature)]
            if self.overrun_trimmed and context == "trimmed" and not options.prompt:
                segments.append(Segment(1, seconds + 1, seconds + 4, " uh...", -0.2, 0.0, 0.8))
                text = f"{text} uh..."
            return Transcription(text, "en", 1.0, seconds, tuple(segments), confidence=0.8)
        finally:
            self.in_flight -= 1


class Collector:
    def __init__(self) -> None:
        self.messages: list[ServerMessage] = []

    async def __call__(self, message: ServerMessage) -> None:
        self.messages.append(message)

    def of(self, kind: type[ServerMessage]) -> list[ServerMessage]:
        return [m for m in self.messages if isinstance(m, kind)]


WHISPER_QUALITY = WhisperStreamQuality(encoder_context="trimmed")


def make_session(decoder: RecordingDecoder, out: Collector, **settings: float) -> StreamSession:
    session = StreamSession(
        StartMessage(interim_results=True),
        StreamSettings(quality=WHISPER_QUALITY, **settings),  # type: ignore[arg-type]
        decoder,
        out,
    )
    session.start()
    return session


async def feed_all(session: StreamSession, pcm: bytes) -> None:
    for frame in frames(pcm):
        session.feed(frame)
        await asyncio.sleep(0)  # let the decoder task run, as between network frames
