"""Stand-ins for `asr_server.audio`, `.formats` and `.text`, installed ONLY while those
modules do not exist yet (they are written in parallel by another engineer). Minimal, for the
HTTP-layer tests; the real modules take over as soon as they are importable."""

from __future__ import annotations

import importlib
import io
import sys
import types
from typing import Any

import numpy as np
from asr_server import errors
from asr_server.engines.base import SAMPLE_RATE, Transcription


def _decode_audio(data: bytes, max_seconds: float | None = None) -> Any:
    from faster_whisper import decode_audio

    if not data:
        raise errors.BadAudio("the audio is empty", code="empty_audio")
    try:
        audio = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as exc:
        raise errors.BadAudio(f"cannot decode audio: {exc}", code="undecodable_audio") from None
    return _checked(audio, max_seconds)


def _pcm16_to_audio(
    data: bytes, sample_rate: int, channels: int = 1, max_seconds: float | None = None
) -> Any:
    if not data:
        raise errors.BadAudio("the audio is empty", code="empty_audio")
    if len(data) % (2 * channels):
        raise errors.BadAudio("PCM16 length is not whole frames", code="invalid_pcm")
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    samples = samples.reshape(-1, channels).mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        n = int(len(samples) * SAMPLE_RATE / sample_rate)
        samples = np.interp(
            np.arange(n) * sample_rate / SAMPLE_RATE, np.arange(len(samples)), samples
        ).astype(np.float32)
    return _checked(samples, max_seconds)


def _checked(audio: Any, max_seconds: float | None) -> Any:
    if len(audio) == 0:
        raise errors.BadAudio("the audio is empty", code="empty_audio")
    if max_seconds is not None and len(audio) / SAMPLE_RATE > max_seconds:
        raise errors.BadAudio(
            f"audio is {len(audio) / SAMPLE_RATE:.1f} s, longer than {max_seconds:g} s",
            code="audio_too_long",
        )
    return audio.astype(np.float32)


def _recognize_json(t: Transcription) -> dict[str, Any]:
    return {
        "text": t.text,
        "confidence": t.confidence,
        "language": t.language,
        "duration": t.duration,
        "segments": [
            {"start": s.start, "end": s.end, "text": s.text, "confidence": s.confidence}
            for s in t.segments
        ],
    }


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _srt(t: Transcription) -> str:
    return "".join(
        f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text.strip()}\n\n"
        for i, s in enumerate(t.segments, 1)
    )


def _vtt(t: Transcription) -> str:
    cues = "".join(
        f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text.strip()}\n\n" for s in t.segments
    )
    return "WEBVTT\n\n" + cues


def _verbose(t: Transcription) -> dict[str, Any]:
    return {
        "task": "transcribe",
        "language": t.language,
        "duration": t.duration,
        "text": t.text,
        "segments": _recognize_json(t)["segments"],
    }


def install_if_missing() -> None:
    builders = {
        "asr_server.audio": {"decode_audio": _decode_audio, "pcm16_to_audio": _pcm16_to_audio},
        "asr_server.formats": {
            "to_text": lambda t: t.text.strip() + "\n",
            "to_srt": _srt,
            "to_vtt": _vtt,
            "to_openai_json": lambda t: {"text": t.text},
            "to_verbose_json": _verbose,
            "to_recognize_json": _recognize_json,
        },
        "asr_server.text": {
            "to_pinyin": lambda text: __import__("pypinyin").lazy_pinyin(
                text, style=__import__("pypinyin").Style.TONE3
            )
        },
    }
    for name, attributes in builders.items():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
            setattr(sys.modules["asr_server"], name.rsplit(".", 1)[1], module)
