"""The domain types every part of the server shares: audio, what a request asks, what comes back.

Audio is 16 kHz mono float32 from the moment it is decoded (`asr_server.audio`) until an engine
turns it into a `Transcription`; the cache, the scheduler, the streaming layer, the routes and
the response formats all speak these types, and none of them knows which engine is loaded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
"""Sample rate of every array handed to an engine."""

Audio = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1] at SAMPLE_RATE."""

GREEDY = 1
"""The beam width of greedy decoding."""


@dataclass(frozen=True)
class TranscribeOptions:
    """Per-request decoding options. Frozen and hashable: part of the result-cache key and the
    key that decides which requests may share a batch (every field, `engine` included)."""

    language: str | None = None
    """ISO 639-1 code (`en`, `zh`); None detects the language."""
    task: str = "transcribe"
    """`transcribe` or `translate` (to English)."""
    prompt: str | None = None
    """Initial prompt: previous text or custom vocabulary that steers the decoder."""
    hotwords: str | None = None
    """Words or phrases to favour (the seed's custom vocabulary)."""
    temperature: float = 0.0
    """Sampling temperature; 0 decodes deterministically (greedy or beam search)."""
    beam_size: int | None = None
    """Beam width at temperature 0; 1 is greedy decoding (`contract.BEAM_SIZES` bounds what a
    request or a setting may ask). None: the server's ASR_BEAM_SIZE, which the data plane
    fills in before the cache, the scheduler and the engine see the options (`with_defaults`),
    so every transport gets it; an engine called directly with None decodes greedily."""
    word_timestamps: bool = False
    """Also return per-word timings."""
    vad_filter: bool = False
    """Drop non-speech with Silero VAD before decoding."""
    engine: Hashable | None = None
    """Options only the loaded engine understands, as that engine's own frozen dataclass (for
    Whisper `engines.whisper.options.WhisperOptions`: fallback, encoder context); None means
    the engine's defaults. A decoding setting every engine shares belongs in a field of its
    own above (as `beam_size`), never in here."""

    def __post_init__(self) -> None:
        if self.beam_size is not None and self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")

    def with_defaults(self, beam_size: int) -> TranscribeOptions:
        """These options with what the request left unset filled in from the server's settings."""
        if self.beam_size is not None:
            return self
        return dataclasses.replace(self, beam_size=beam_size)

    @property
    def beam_width(self) -> int:
        """The beam width to decode with: greedy when unset."""
        return GREEDY if self.beam_size is None else self.beam_size


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    """Seconds from the start of the audio."""
    end: float
    text: str
    avg_logprob: float
    """Mean token log-probability from the decoder."""
    no_speech_prob: float
    confidence: float
    """`confidence(avg_logprob)`: the geometric-mean token probability."""
    words: tuple[Word, ...] = ()
    # Decoder details OpenAI's verbose_json reports; engines fill what they know.
    seek: int = 0
    """Offset of the decoded window in mel frames (100 per second)."""
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    compression_ratio: float = 0.0


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str
    language_probability: float
    duration: float
    """Seconds of audio decoded."""
    segments: tuple[Segment, ...] = ()
    confidence: float = 0.0
    """`overall_confidence(segments)`."""


def confidence(avg_logprob: float) -> float:
    """exp(avg_logprob) clamped to [0, 1]: the geometric-mean token probability (0.9: the
    decoder was, on average, 90 % sure of each token)."""
    return min(1.0, max(0.0, math.exp(avg_logprob)))


def overall_confidence(segments: Sequence[Segment]) -> float:
    """Duration-weighted mean of the segments' confidence (plain mean if all are 0 s; 0 when
    there are no segments)."""
    weights = [max(s.end - s.start, 0.0) for s in segments]
    total = sum(weights)
    if total > 0:
        return sum(w * s.confidence for w, s in zip(weights, segments, strict=True)) / total
    return sum(s.confidence for s in segments) / len(segments) if segments else 0.0
