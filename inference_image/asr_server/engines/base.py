"""The engine boundary: the `ASREngine` protocol every speech-recognition backend implements,
and the optional capabilities an engine may add.

Audio crosses this boundary as 16 kHz mono float32 numpy arrays (`asr_server.types`);
everything above it (the data plane, the scheduler, the streaming layer, the routes) is
engine-agnostic and asks an engine for a capability with `isinstance(engine, Capability)`.
An engine without a capability gets the server's generic behaviour (see each one). How to
add an engine: docs/architecture.md, "Adding an engine".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from asr_server.types import Audio, TranscribeOptions, Transcription


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
    tasks: tuple[str, ...] = ("transcribe",)
    """The `TranscribeOptions.task` values the loaded model performs: `translate` (to English)
    only where it can (POST /v1/audio/translations refuses it otherwise)."""
    details: Mapping[str, str | int | float] = field(default_factory=dict)
    """What only this engine has to say (Whisper: `cpu_threads`, `cpu_layout`); `/v1/models`
    reports these next to the fields above."""


class EngineError(Exception):
    """A request the engine cannot decode (bad input, not a server fault)."""


class ModelError(Exception):
    """A model that cannot be found or prepared; the message says what is missing."""


@runtime_checkable
class ASREngine(Protocol):
    """A loaded speech-recognition model. `transcribe` and `transcribe_batch` are blocking
    and are always called off the event loop (a worker thread)."""

    @property
    def info(self) -> EngineInfo: ...

    @property
    def ready(self) -> bool: ...

    def load(self) -> None:
        """Load the model (blocking, once); raise ModelError for a model that is not there."""

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription: ...

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """Decode several requests in one call; one bad item yields its EngineError in its
        slot and never fails the others."""
        ...


def transcribe_one(engine: ASREngine, audio: Audio, options: TranscribeOptions) -> Transcription:
    """`transcribe` for an engine whose one decoding path is `transcribe_batch`: the item
    alone, its EngineError raised."""
    result = engine.transcribe_batch([(audio, options)])[0]
    if isinstance(result, EngineError):
        raise result
    return result


# --- optional capabilities ---------------------------------------------------------------


@runtime_checkable
class BatchSizing(Protocol):
    """An engine that decodes several items per call faster than one at a time."""

    def max_batch_size(self) -> int:
        """Items per `transcribe_batch` call on the loaded device (ASR_BATCH_MAX_SIZE when
        set); called once the engine is loaded. Without this capability the scheduler gives
        an engine ASR_BATCH_MAX_SIZE items, or one at a time."""
        ...


Progress = Callable[[float, float], None]
"""Called with (seconds of the item decoded so far, its total seconds), from the decode
thread."""


@runtime_checkable
class ReportsProgress(Protocol):
    """An engine that says how far each item of a batch has got (the CLI's progress bar).
    Without it, an item's progress is only its result."""

    def transcribe_batch_with_progress(
        self,
        items: Sequence[tuple[Audio, TranscribeOptions]],
        progress: Sequence[Progress | None],
    ) -> list[Transcription | EngineError]:
        """`transcribe_batch`, calling `progress[i]` (when given) as item i advances."""
        ...


@dataclass(frozen=True)
class StreamPasses:
    """The options of each kind of decode a live stream makes (streaming/decoding.py)."""

    final: TranscribeOptions
    """An utterance's final result: its first (and usually only) decode."""
    partial: TranscribeOptions
    """A partial result: best effort, a single pass."""
    retry: TranscribeOptions | None = None
    """A final whose result `StreamQuality.needs_retry` (or that overran its audio) is
    decoded again with these; None: never decoded twice."""


@runtime_checkable
class StreamQuality(Protocol):
    """How an engine wants live streams decoded and judged: its stream-quality policy."""

    def stream_passes(self, options: TranscribeOptions) -> StreamPasses:
        """The options of a stream's decodes, from what its start message asked."""
        ...

    def needs_retry(self, result: Transcription) -> bool:
        """True when a final decoded with `StreamPasses.final` looks failed by the engine's
        own checks and should be decoded again with `StreamPasses.retry`."""
        ...

    def keeps_as_context(self, result: Transcription) -> bool:
        """False when a final's text is too doubtful to prompt the stream's next decodes."""
        ...


@runtime_checkable
class HasStreamQuality(Protocol):
    """An engine with its own stream-quality policy. Without it every stream decode is one
    decode with the stream's options, nothing is retried and every final is context."""

    def stream_quality(self) -> StreamQuality: ...
