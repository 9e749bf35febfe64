"""Opt-in window packing: two short clips share one 30 s window, so one encoder pass serves two
requests.

On CPU the encoder of a (padded) 30 s window is most of a short request's cost, and batching
does not make it cheaper per window. Packing clip A, two seconds of silence and clip B into one
window halves that cost. The price: B is decoded with A's text as context, so the text is no
longer guaranteed identical to the unbatched path (which is why it is off by default). Each
decoded segment is given back to the clip whose time span holds it; a segment that reaches into
the silent gap (a sentence spanning both clips, or a hallucination in the gap) makes the pair
fall back to being decoded apart, so a request never gets another request's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

from asr_server.engines.base import SAMPLE_RATE, Audio, TranscribeOptions, Transcription
from asr_server.engines.stitch import to_transcription
from asr_server.engines.windows import FRAMES_PER_SECOND, Features, ItemPlan

GAP_SECONDS = 2.0
MAX_PACKED_SECONDS = 14.0
"""Each clip at most 14 s: 14 + 2 + 14 = 30 s, one window."""
_MARGIN = 0.2
"""Seconds a segment may reach into the gap (timestamps are 20 ms apart and not exact)."""


@dataclass(frozen=True)
class Pair:
    first: int
    second: int
    first_seconds: float
    """Length of the first clip: the gap starts here."""


def packable(audio: Audio, options: TranscribeOptions, multilingual: bool) -> bool:
    """Short clips whose decode needs nothing per clip that packing would blur."""
    return (
        audio.ndim == 1
        and 0 < audio.shape[0] <= MAX_PACKED_SECONDS * SAMPLE_RATE
        and bool(np.isfinite(audio).all())
        and (options.language is not None or not multilingual)
        and not options.word_timestamps
        and not options.vad_filter
    )


def pair_up(
    items: list[tuple[Audio, TranscribeOptions]], multilingual: bool, extractor: FeatureExtractor
) -> tuple[list[Pair], list[tuple[Audio, TranscribeOptions]], list[Features]]:
    """Pair packable items with identical options, in order; return the pairs, the packed
    audio and the packed log-mel (one per pair)."""
    waiting: dict[TranscribeOptions, int] = {}
    pairs: list[Pair] = []
    packed: list[tuple[Audio, TranscribeOptions]] = []
    features: list[Features] = []
    for index, (audio, options) in enumerate(items):
        if not packable(audio, options, multilingual):
            continue
        first = waiting.pop(options, None)
        if first is None:
            waiting[options] = index
            continue
        first_audio = items[first][0]
        gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
        pairs.append(Pair(first, index, first_audio.shape[0] / SAMPLE_RATE))
        packed.append((np.concatenate([first_audio, gap, audio]).astype(np.float32), options))
        features.append(_packed_features(first_audio, audio, extractor))
    return pairs, packed, features


def _packed_features(first: Audio, second: Audio, extractor: FeatureExtractor) -> Features:
    """Each clip's log-mel normalised on its own (Whisper clamps to the loudest frame - 8, so a
    loud clip would otherwise flatten a quiet neighbour), the gap as silence."""
    a = extractor(first.astype(np.float32))[..., :-1]
    b = extractor(second.astype(np.float32))[..., :-1]
    gap_frames = int(GAP_SECONDS * FRAMES_PER_SECOND)
    gap = np.full((a.shape[0], gap_frames), min(a.min(), b.min()), dtype=np.float32)
    return np.concatenate([a, gap, b], axis=1).astype(np.float32)


def split(
    pair: Pair, segments: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The packed window's segments as (first clip's, second clip's, in its own time), or None
    when a segment lies in the gap and cannot be attributed safely."""
    gap_start = pair.first_seconds
    second_start = gap_start + GAP_SECONDS
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    for segment in segments:
        start, end = float(segment["start"]), float(segment["end"])
        if end <= gap_start + _MARGIN:
            first.append(segment)
        elif start >= second_start - _MARGIN:
            shifted = {**segment, "start": max(0.0, start - second_start)}
            shifted["end"] = max(shifted["start"], end - second_start)
            second.append(shifted)
        else:
            return None
    return first, second


def unpack(
    pair: Pair, plan: ItemPlan, items: Sequence[tuple[Audio, TranscribeOptions]]
) -> tuple[Transcription, Transcription] | None:
    """The two clips' transcriptions from the packed item's decode, or None to decode apart."""
    if plan.error is not None:
        return None
    raw = [segment for order in sorted(plan.segments) for segment in plan.segments[order]]
    parts = split(pair, raw)
    if parts is None:
        return None
    first, second = (
        _transcription(index, segments, plan, items)
        for index, segments in zip((pair.first, pair.second), parts, strict=True)
    )
    return first, second


def _transcription(
    index: int,
    segments: list[dict[str, Any]],
    packed: ItemPlan,
    items: Sequence[tuple[Audio, TranscribeOptions]],
) -> Transcription:
    audio, options = items[index]
    clip = ItemPlan(index, options, audio.shape[0] / SAMPLE_RATE, "seek")
    clip.language, clip.language_probability = packed.language, packed.language_probability
    clip.segments = {0: segments}
    return to_transcription(clip)
