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

import dataclasses
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
        # Word timings let a segment that runs across the gap be cut between the two clips.
        aligned = dataclasses.replace(options, word_timestamps=True)
        packed.append((np.concatenate([first_audio, gap, audio]).astype(np.float32), aligned))
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
    when something lies in the gap and cannot be attributed safely. A segment running across
    the gap (Whisper does not always break at a pause) is cut between its words."""
    gap_end = pair.first_seconds + _MARGIN
    second_start = pair.first_seconds + GAP_SECONDS
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    for segment in segments:
        start, end = float(segment["start"]), float(segment["end"])
        if end <= gap_end:
            first.append(segment)
            continue
        if start >= second_start - _MARGIN:
            second.append(_shifted(segment, segment.get("words") or [], second_start))
            continue
        words = segment.get("words") or []
        before = [w for w in words if _middle(w) <= gap_end]
        after = [w for w in words if _middle(w) >= second_start - _MARGIN]
        if not words or len(before) + len(after) != len(words):
            return None  # no word timings, or a word inside the gap (a hallucination?)
        if before:
            first.append(_shifted(segment, before, 0.0, partial=True))
        if after:
            second.append(_shifted(segment, after, second_start, partial=True))
    return first, second


def _middle(word: dict[str, Any]) -> float:
    return (float(word["start"]) + float(word["end"])) / 2


def _shifted(
    segment: dict[str, Any], words: list[dict[str, Any]], offset: float, partial: bool = False
) -> dict[str, Any]:
    """`segment` moved `offset` seconds earlier; `partial`: cut down to `words`."""
    moved = [
        {**w, "start": max(0.0, w["start"] - offset), "end": max(0.0, w["end"] - offset)}
        for w in words
    ]
    if partial:
        text = "".join(str(w["word"]) for w in words)
        start, end = moved[0]["start"], moved[-1]["end"]
        return {**segment, "words": moved, "text": text, "start": start, "end": end, "tokens": []}
    start = max(0.0, float(segment["start"]) - offset)
    return {**segment, "words": moved, "start": start, "end": max(start, segment["end"] - offset)}


def unpack(
    pair: Pair, plan: ItemPlan, items: Sequence[tuple[Audio, TranscribeOptions]]
) -> tuple[Transcription, Transcription] | None:
    """The two clips' transcriptions from the packed item's decode, or None to decode apart."""
    if plan.error is not None:
        return None
    raw = [segment for order in sorted(plan.segments) for segment in plan.segments[order]]
    parts = split(pair, raw)
    if parts is not None and not items[pair.first][1].word_timestamps:
        parts = ([{**s, "words": []} for s in parts[0]], [{**s, "words": []} for s in parts[1]])
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
    clip.segments = {(0, 0): segments}
    return to_transcription(clip)
