"""Response bodies rendered from a Transcription: plain text, SRT, WebVTT, OpenAI json and
verbose_json, and the `/v1/recognize` JSON (docs/server-api.md; docs/architecture.md,
"An HTTP request")."""

from __future__ import annotations

import zlib
from typing import Any

from asr_server.languages import language_name
from asr_server.types import Segment, Transcription, Word


def timestamp(seconds: float, decimal_marker: str = ".") -> str:
    """`HH:MM:SS.mmm` (hours grow past 99 if they must); SRT uses `,` as the marker."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


def to_text(result: Transcription) -> str:
    return result.text.strip() + "\n"


def to_srt(result: Transcription) -> str:
    cues = []
    for number, segment in enumerate(_spoken(result), start=1):
        start = timestamp(segment.start, ",")
        end = timestamp(segment.end, ",")
        cues.append(f"{number}\n{start} --> {end}\n{segment.text.strip()}\n")
    return "\n".join(cues)


def to_vtt(result: Transcription) -> str:
    cues = [
        f"{timestamp(s.start)} --> {timestamp(s.end)}\n{s.text.strip()}\n" for s in _spoken(result)
    ]
    return "\n".join(["WEBVTT\n", *cues])


def to_openai_json(result: Transcription) -> dict[str, Any]:
    return {"text": result.text}


def to_verbose_json(result: Transcription, *, task: str = "transcribe") -> dict[str, Any]:
    """OpenAI's verbose_json. `words` is present when the engine produced word timings."""
    body: dict[str, Any] = {
        "task": task,
        "language": language_name(result.language),
        "duration": round(result.duration, 3),
        "text": result.text,
        "segments": [_verbose_segment(s) for s in result.segments],
    }
    words = [w for s in result.segments for w in s.words]
    if words:
        body["words"] = [
            {"word": w.text.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
            for w in words
        ]
    return body


def to_recognize_json(result: Transcription) -> dict[str, Any]:
    """`/v1/recognize`: text, confidence, language, duration and segments (with words when
    asked for)."""
    return {
        "text": result.text.strip(),
        "confidence": round(result.confidence, 4),
        "language": result.language,
        "duration": round(result.duration, 3),
        "segments": [_recognize_segment(s) for s in result.segments],
    }


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure: raw UTF-8 bytes over zlib-compressed bytes."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def _spoken(result: Transcription) -> list[Segment]:
    return [s for s in result.segments if s.text.strip()]


def _verbose_segment(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "seek": segment.seek,
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": list(segment.tokens),
        "temperature": segment.temperature,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": segment.compression_ratio or compression_ratio(segment.text),
        "no_speech_prob": segment.no_speech_prob,
    }


def _recognize_segment(segment: Segment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text.strip(),
        "confidence": round(segment.confidence, 4),
    }
    if segment.words:
        body["words"] = [_recognize_word(w) for w in segment.words]
    return body


def _recognize_word(word: Word) -> dict[str, Any]:
    return {
        "word": word.text.strip(),
        "start": round(word.start, 3),
        "end": round(word.end, 3),
        "probability": round(word.probability, 4),
    }
