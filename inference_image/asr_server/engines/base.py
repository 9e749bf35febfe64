"""The engine interface every speech-recognition backend implements, and its result types.

Audio crosses this boundary as 16 kHz mono float32 numpy arrays (see `asr_server.audio`);
everything above it (routes, scheduler, streaming) is engine-agnostic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
"""Sample rate of every array handed to an engine."""

Audio = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1] at SAMPLE_RATE."""


@dataclass(frozen=True)
class TranscribeOptions:
    """Per-request decoding options. Frozen and hashable: part of the result-cache key and the
    key that decides which requests may share a batch."""

    language: str | None = None
    """ISO 639-1 code (`en`, `zh`); None detects the language."""
    task: str = "transcribe"
    """`transcribe` or `translate` (to English)."""
    prompt: str | None = None
    """Initial prompt: previous text or custom vocabulary that steers the decoder."""
    hotwords: str | None = None
    """Words or phrases to favour (the seed's custom vocabulary)."""
    temperature: float = 0.0
    """Sampling temperature; 0 is greedy (deterministic)."""
    beam_size: int = 1
    """1 is greedy decoding."""
    word_timestamps: bool = False
    """Also return per-word timings."""
    vad_filter: bool = False
    """Drop non-speech with Silero VAD before decoding."""
    fallback: bool = True
    """With temperature 0: retry a window that looks failed at higher temperatures (up to 6
    decodes). False is one greedy pass, for best-effort work such as a stream's partials
    (mid-word audio often "fails" the checks, and each retry costs a whole decode)."""
    encoder_context: str | None = None
    """`full` (Whisper's padded 30 s window), `trimmed` (the audio plus a margin of silence:
    several times cheaper on CPU, text not guaranteed identical; engines/windows.py) or None
    for the server's setting (ASR_ENCODER_CONTEXT)."""


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
    """exp(avg_logprob) clamped to [0, 1]: the geometric-mean token probability."""
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
    """Duration-weighted mean of the segments' confidence (0 when there are no segments)."""


@dataclass(frozen=True)
class EngineInfo:
    """What `/v1/models` and logs say about the loaded model."""

    name: str
    engine: str
    device: str
    compute_type: str
    path: str = ""
    languages: tuple[str, ...] = field(default_factory=tuple)
    load_seconds: float = 0.0
    cpu_threads: int = 0
    """CTranslate2 threads on CPU (0 on a GPU)."""
    cpu_layout: str = ""
    """`single` or `adaptive` (engines/batch_defaults.cpu_layout); empty when not loaded."""


class EngineError(Exception):
    """A request the engine cannot decode (bad input, not a server fault)."""


@runtime_checkable
class ASREngine(Protocol):
    """A loaded speech-recognition model. `transcribe` and `transcribe_batch` are blocking
    and are always called off the event loop (a worker thread)."""

    @property
    def info(self) -> EngineInfo: ...

    @property
    def ready(self) -> bool: ...

    def load(self) -> None:
        """Load the model (blocking, once)."""

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription: ...

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """Decode several requests in one call; one bad item yields its EngineError in its
        slot and never fails the others."""
        ...
