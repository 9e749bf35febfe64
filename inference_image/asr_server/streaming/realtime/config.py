"""A realtime transcription session's configuration, and what it means for the streaming
session underneath (endpointing, decoding options)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from asr_server.streaming.protocol import StartMessage
from asr_server.streaming.utterance import StreamSettings
from asr_server.types import SAMPLE_RATE, TranscribeOptions

OPENAI_INPUT_RATE = 24_000
"""The only PCM rate OpenAI accepts (beta `pcm16`, GA `audio/pcm`), and the default here."""
INPUT_RATES = (8_000, 48_000)
"""The GA `audio/pcm` rates accepted here (inclusive): OpenAI's 24 kHz, or a client's own
rate (16 kHz skips the resampling)."""
LOGPROBS = "item.input_audio_transcription.logprobs"
"""The one `include` value OpenAI defines."""
NEG_THRESHOLD_GAP = 0.15
"""Speech ends below threshold - 0.15 (faster-whisper's VadOptions default hysteresis)."""
DELAYS = {"minimal": 1, "low": 2, "medium": 3, "high": 4, "xhigh": None}
"""GA `transcription.delay` -> how many consecutive partials must agree on a token before it
is sent as a delta (deltas.py); None: deltas come from the final only. OpenAI: "how long the
model waits before emitting transcription text; higher values can improve transcription
accuracy at the cost of latency"."""
DEFAULT_DELAY = "low"
"""Deltas while the speaker talks at the final's accuracy on jfk (docs/streaming.md "Deltas
and revisions": medium sent none before jfk's short utterances ended)."""


@dataclass(frozen=True)
class ServerVad:
    """`turn_detection: {"type": "server_vad", ...}`: utterances end at pauses."""

    threshold: float = 0.5
    """Speech probability (Silero VAD) at or above which a 32 ms window is speech."""
    prefix_padding_ms: int = 200
    """Audio kept before the detected onset."""
    silence_duration_ms: int = 500
    """The pause that ends an utterance (rounded up to whole 32 ms windows)."""


@dataclass(frozen=True)
class InputTranscription:
    """`input_audio_transcription` (beta) / `audio.input.transcription` (GA)."""

    model: str = "whisper-1"
    """Echoed back: the loaded model transcribes, whatever the name (as /v1/audio/...)."""
    language: str | None = None
    """ISO 639-1; None: the server's ASR_LANGUAGE, else detected per utterance."""
    prompt: str | None = None
    """Whisper's initial prompt, before the stream's own context."""
    keywords: tuple[str, ...] = ()
    """GA `keywords`: passed to the engine as hotwords."""
    delay: str = DEFAULT_DELAY
    """GA `delay` (DELAYS): how stable partial text must be to become a delta."""

    @property
    def agreement(self) -> int | None:
        return DELAYS[self.delay]


@dataclass(frozen=True)
class SessionConfig:
    input_rate: int = OPENAI_INPUT_RATE
    """Sample rate of the PCM16 mono little-endian audio appended."""
    transcription: InputTranscription = field(default_factory=InputTranscription)
    turn_detection: ServerVad | None = field(default_factory=ServerVad)
    """None: no endpointing; the client commits each item (input_audio_buffer.commit)."""
    noise_reduction: str | None = None
    """`near_field` / `far_field` / None: accepted and echoed; no filter runs (see
    docs/streaming.md: Whisper is trained on noisy speech and a denoiser's artefacts cost it
    accuracy; Silero's threshold is what keeps noise from starting utterances)."""
    include: tuple[str, ...] = ()
    """Accepted and echoed; logprobs are not sent (the engines report a log-probability per
    segment, not per token)."""

    @classmethod
    def defaults(cls, stream: StreamSettings) -> SessionConfig:
        """The server's streaming defaults, as a realtime session reports them."""
        endpoint = stream.endpoint
        return cls(
            turn_detection=ServerVad(
                threshold=endpoint.threshold,
                prefix_padding_ms=round(endpoint.onset_pad_s * 1000),
                silence_duration_ms=round(endpoint.min_silence_s * 1000),
            )
        )

    def stream_settings(self, base: StreamSettings) -> StreamSettings:
        """The streaming session's settings: the server's, endpointed as configured."""
        vad = self.turn_detection
        if vad is None:
            endpoint = dataclasses.replace(base.endpoint, min_silence_s=math.inf)
            return dataclasses.replace(base, endpoint=endpoint, early_finals=False)
        endpoint = dataclasses.replace(
            base.endpoint,
            threshold=vad.threshold,
            neg_threshold=max(vad.threshold - NEG_THRESHOLD_GAP, 0.01),
            min_silence_s=vad.silence_duration_ms / 1000,
            prefix_pad_s=vad.prefix_padding_ms / 1000,
        )
        return dataclasses.replace(base, endpoint=endpoint)

    def start_message(self, server_language: str | None) -> StartMessage:
        """What the streaming session decodes with (partials always on: deltas need them)."""
        words = self.transcription
        return StartMessage(
            sample_rate=SAMPLE_RATE,
            options=TranscribeOptions(
                language=words.language or server_language,
                hotwords=" ".join(words.keywords) or None,
                prompt=words.prompt,
            ),
            interim_results=True,
        )

    def same_audio_handling(self, other: SessionConfig) -> bool:
        """True when `other` transcribes and endpoints audio exactly as this one does (a
        session.update that changes only what is echoed needs no new streaming session)."""
        return (self.input_rate, self.turn_detection, self.start_message(None)) == (
            other.input_rate,
            other.turn_detection,
            other.start_message(None),
        )
