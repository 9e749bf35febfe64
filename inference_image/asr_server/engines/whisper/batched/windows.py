"""Split one request's audio into Whisper's <= 30 s decoding windows.

Two plans, chosen per request:
- `seek`: audio up to 30 s without VAD is decoded exactly as faster-whisper's sequential
  `WhisperModel.transcribe` does: log-mel over the whole clip, a window at `seek`, and a
  follow-up window from the last timestamp when the decoder stops mid-clip. Greedy results are
  therefore identical to the unbatched path.
- `chunks`: longer audio (or `vad_filter`) is cut at silences by Silero VAD into independent
  <= 30 s chunks, so every window of a long file can share one batch. A chunk is a stretch of
  the original audio from the start of its first speech to the end of its last, pauses
  included, as the sequential decoder would hear it; times need no mapping back. Where the
  decoder stops before the end of a chunk, a follow-up window continues from its last
  timestamp, as in seek mode (without it jfk x3 lost "And so my fellow Americans, ask not"
  of its third time, bench/longform.py).
  faster-whisper's `BatchedInferencePipeline` concatenates the speech without the pauses
  instead: on jfk, two sentences and jfk again 1.5 s apart that lost a word ("Our new office"
  -> "Our office") which the same audio with its pauses keeps (bench/longform.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from faster_whisper.audio import pad_or_trim
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.vad import VadOptions, get_speech_timestamps

from asr_server.engines.base import EngineError, Progress
from asr_server.engines.whisper.options import DEFAULT_OPTIONS, WhisperOptions
from asr_server.types import SAMPLE_RATE, Audio, TranscribeOptions

Features = npt.NDArray[np.float32]
Order = tuple[int, int]
"""(chunk, window within the chunk): where a window's text goes in its item's transcript."""

WINDOW_SECONDS = 30
"""Whisper's receptive field."""
FRAMES_PER_SECOND = 100
"""Log-mel frames per second (hop length 160 at 16 kHz)."""
WINDOW_FRAMES = WINDOW_SECONDS * FRAMES_PER_SECOND
HOP_LENGTH = 160
"""Samples per log-mel frame."""
TIME_PER_FRAME = HOP_LENGTH / SAMPLE_RATE
"""Seconds per frame, computed as faster-whisper does so window times match it bit for bit."""

TRIM_MARGIN_FRAMES = 300
"""Silence kept after the content: with less, the decoder tends not to stop (repetition loops
on 1 s or less, measured on espeak-ng and jfk clips with whisper-tiny.en)."""
TRIM_MIN_FRAMES = 1000
TRIM_STEP_FRAMES = 100
"""Context lengths are whole seconds, so windows of similar length share one encode call."""

# The VAD settings BatchedInferencePipeline uses: chunks never exceed one window.
_VAD_OPTIONS = VadOptions(max_speech_duration_s=WINDOW_SECONDS, min_silence_duration_ms=160)


@dataclass
class ItemPlan:
    """One request being decoded: its audio features and what has been decoded so far."""

    index: int
    options: TranscribeOptions
    duration: float
    mode: Literal["seek", "chunks"]
    whisper: WhisperOptions = DEFAULT_OPTIONS
    """The request's Whisper options, its encoder context resolved (the decoder's default)."""
    features: Features | None = None
    """Seek mode: log-mel of the whole clip (frames beyond the content excluded)."""
    language: str | None = None
    language_probability: float = 1.0
    first_order: Order = (0, 0)
    """Order of the first window: its encoding decides the item's language when not given."""
    previous_tokens: list[int] = field(default_factory=list)
    """Seek mode: tokens decoded so far (condition_on_previous_text)."""
    segments: dict[Order, list[dict[str, Any]]] = field(default_factory=dict)
    """Decoded segments per window order, stitched in order at the end."""
    error: EngineError | None = None
    progress: Progress | None = None
    """Told how far the item has got (the request asked for it)."""
    windows_planned: int = 0
    """Chunks mode: the item's chunks."""
    windows_done: int = 0
    """Chunks mode: chunks decoded to their end."""


@dataclass
class Window:
    """A <= 30 s mel window of one item, ready for a batched encode."""

    item: ItemPlan
    order: Order
    """Position of this window in its item's transcript."""
    features: Features
    """(n_mels, 3000), padded."""
    time_offset: float
    segment_size: int
    """Content frames in this window."""
    segment_duration: float
    seek: int
    """Frame index of the window start in the item's audio."""
    source: Features
    """The unpadded log-mel the window was cut from (the clip, or its chunk), for follow-ups."""
    source_seek: int = 0
    """Frame index of the source's start in the item's audio."""
    pass_index: int = 0
    """Position in the window's decode passes (engines/whisper/fallback.passes)."""
    attempts: list[Any] = field(default_factory=list)
    """Failed candidates of the earlier passes, for the choice when all fail."""
    full_context: bool = False
    """Encode all 3000 frames even when the item asks for a trimmed context: a trimmed decode
    that failed the quality checks is retried this way before the fallback pass."""
    language: str | None = None
    """Detected on this window when its item's language was not known yet (parallel chunks)."""


def encoder_frames(content_frames: int, trimmed: bool) -> int:
    """Frames to encode for a window with `content_frames` of audio. Trimmed: the content plus
    TRIM_MARGIN_FRAMES of silence, at least TRIM_MIN_FRAMES, rounded up to whole seconds.
    The encoder's cost grows faster than linearly with its input (self-attention), so an 11 s
    clip costs about a quarter of a full window (whisper-tiny.en int8, 2 CPU threads)."""
    if not trimmed:
        return WINDOW_FRAMES
    wanted = max(TRIM_MIN_FRAMES, content_frames + TRIM_MARGIN_FRAMES)
    return min(WINDOW_FRAMES, -(-wanted // TRIM_STEP_FRAMES) * TRIM_STEP_FRAMES)


def validate_audio(audio: Audio) -> None:
    """Raise EngineError for audio no decoder should see."""
    if not isinstance(audio, np.ndarray) or audio.ndim != 1:
        raise EngineError("audio must be a one-dimensional array of samples")
    if audio.size == 0:
        raise EngineError("audio is empty")
    if not np.isfinite(audio).all():
        raise EngineError("audio contains non-finite samples")


def plan_item(
    index: int,
    audio: Audio,
    options: TranscribeOptions,
    extractor: FeatureExtractor,
) -> tuple[ItemPlan, list[Window]]:
    """Plan an item's first windows: one window in seek mode, every chunk in chunks mode."""
    validate_audio(audio)
    audio = audio.astype(np.float32, copy=False)
    duration = audio.shape[0] / SAMPLE_RATE
    if duration <= WINDOW_SECONDS and not options.vad_filter:
        features = extractor(audio)[..., :-1]
        plan = ItemPlan(index, options, duration, "seek", features=features)
        return plan, [window_at(plan, features, 0, (0, 0))]
    plan = ItemPlan(index, options, duration, "chunks")
    spans = speech_spans(get_speech_timestamps(audio, _VAD_OPTIONS))
    windows = [
        window_at(
            plan, extractor(audio[start:end])[..., :-1], 0, (chunk, 0), round(start / HOP_LENGTH)
        )
        for chunk, (start, end) in enumerate(spans)
    ]
    plan.windows_planned = len(windows)
    return plan, windows


def speech_spans(
    speech: list[dict[str, int]], limit: int = WINDOW_SECONDS * SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Stretches of audio (start, end samples) of at most `limit`, pauses included, each from
    the start of a speech region to the end of a later one. Where the speech goes on past the
    limit, the stretch ends at the widest pause in its second half (a sentence's end rather
    than a comma's: a cut at the last pause that fitted split the phone menu of
    bench/longform.py mid-sentence and lost its last option), else at its widest pause."""
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(speech):
        start, last = speech[first]["start"], first
        while last + 1 < len(speech) and speech[last + 1]["end"] - start <= limit:
            last += 1
        if last + 1 < len(speech):
            cuts = range(first, last + 1)  # after region k
            late = [k for k in cuts if speech[k]["end"] - start >= limit // 2]
            last = max(late or cuts, key=lambda k: (speech[k + 1]["start"] - speech[k]["end"], k))
        spans.append((start, speech[last]["end"]))
        first = last + 1
    return spans


def window_at(
    plan: ItemPlan, source: Features, start: int, order: Order, source_seek: int = 0
) -> Window:
    """The window of `source` from its frame `start` (as WhisperModel.generate_segments);
    `source` begins at frame `source_seek` of the item's audio."""
    segment_size = min(WINDOW_FRAMES, int(source.shape[-1]) - start)
    seek = source_seek + start
    return Window(
        item=plan,
        order=order,
        features=pad_or_trim(source[:, start : start + segment_size]),
        time_offset=seek * TIME_PER_FRAME,
        segment_size=segment_size,
        segment_duration=segment_size * TIME_PER_FRAME,
        seek=seek,
        source=source,
        source_seek=source_seek,
    )


def follow_up(window: Window, next_seek: int) -> Window | None:
    """The window from frame `next_seek` of the item, where the decoder of `window` stopped,
    if that is before the end of its source."""
    start = next_seek - window.source_seek
    if next_seek <= window.seek or start >= window.source.shape[-1]:
        return None
    chunk, step = window.order
    return window_at(window.item, window.source, start, (chunk, step + 1), window.source_seek)
