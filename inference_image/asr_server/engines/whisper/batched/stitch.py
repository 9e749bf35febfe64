"""Stitch an item's decoded windows back into one `Transcription`, in order, in its own time."""

from __future__ import annotations

from typing import Any

from asr_server.engines.whisper.batched.windows import ItemPlan
from asr_server.types import Segment, Transcription, Word, confidence, overall_confidence


def to_transcription(plan: ItemPlan) -> Transcription:
    raw = [segment for order in sorted(plan.segments) for segment in plan.segments[order]]
    segments = tuple(_to_segment(number, segment) for number, segment in enumerate(raw, start=1))
    return Transcription(
        text="".join(s.text for s in segments).strip(),
        language=plan.language or plan.options.language or "",
        language_probability=plan.language_probability if plan.language else 0.0,
        duration=plan.duration,
        segments=segments,
        confidence=overall_confidence(segments),
    )


def _to_segment(number: int, raw: dict[str, Any]) -> Segment:
    start, end = float(raw["start"]), float(raw["end"])
    words = [
        Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w["probability"]))
        for w in raw.get("words") or []
    ]
    avg_logprob = float(raw["avg_logprob"])
    return Segment(
        id=number,
        start=round(start, 3),
        end=round(end, 3),
        text=str(raw["text"]),
        avg_logprob=avg_logprob,
        no_speech_prob=float(raw["no_speech_prob"]),
        confidence=confidence(avg_logprob),
        words=tuple(words),
        seek=int(raw.get("seek", 0)),
        tokens=tuple(int(t) for t in raw.get("tokens", ())),
        temperature=float(raw.get("temperature", 0.0)),
        compression_ratio=float(raw.get("compression_ratio", 0.0)),
    )
