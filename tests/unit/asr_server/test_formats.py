"""Renderers, on hand-built Transcriptions with known timings."""

from __future__ import annotations

import re

import pytest
from asr_server import formats
from asr_server.types import Segment, Transcription, Word


def _segment(id: int, start: float, end: float, text: str, words: tuple[Word, ...] = ()) -> Segment:
    return Segment(
        id=id,
        start=start,
        end=end,
        text=text,
        avg_logprob=-0.25,
        no_speech_prob=0.01,
        confidence=0.7788,
        words=words,
        seek=int(start * 100),
        tokens=(50364, 400, 50414),
        temperature=0.0,
    )


@pytest.fixture
def result() -> Transcription:
    words = (Word(0.0, 0.4, " Hello", 0.91), Word(0.5, 1.5, " there.", 0.8))
    return Transcription(
        text=" Hello there. General Kenobi.",
        language="en",
        language_probability=0.98,
        duration=3725.25,
        segments=(
            _segment(0, 0.0, 1.5, " Hello there.", words),
            _segment(1, 3723.0, 3725.2504, " General Kenobi."),
        ),
        confidence=0.7788,
    )


@pytest.mark.parametrize(
    ("seconds", "marker", "expected"),
    [
        (0.0, ",", "00:00:00,000"),
        (1.5, ",", "00:00:01,500"),
        (61.001, ".", "00:01:01.001"),
        (3725.2504, ".", "01:02:05.250"),
        (59.9996, ".", "00:01:00.000"),  # rounding carries into the minute
        (360_000.0, ",", "100:00:00,000"),
        (-0.2, ",", "00:00:00,000"),
    ],
)
def test_timestamp(seconds: float, marker: str, expected: str) -> None:
    assert formats.timestamp(seconds, marker) == expected


def test_text(result: Transcription) -> None:
    assert formats.to_text(result) == "Hello there. General Kenobi.\n"


def test_srt(result: Transcription) -> None:
    assert formats.to_srt(result) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
        "2\n01:02:03,000 --> 01:02:05,250\nGeneral Kenobi.\n"
    )


def test_vtt(result: Transcription) -> None:
    vtt = formats.to_vtt(result)
    assert vtt.startswith("WEBVTT\n\n")
    assert "00:00:00.000 --> 00:00:01.500\nHello there.\n" in vtt
    assert "01:02:03.000 --> 01:02:05.250\nGeneral Kenobi.\n" in vtt
    assert not re.search(r"\d,\d{3}", vtt)


def test_srt_skips_empty_segments_and_numbers_consecutively() -> None:
    segs = (_segment(0, 0, 1, " a"), _segment(1, 1, 2, "  "), _segment(2, 2, 3, " b"))
    srt = formats.to_srt(Transcription("a b", "en", 1.0, 3.0, segs))
    assert [b.split("\n")[0] for b in srt.strip().split("\n\n")] == ["1", "2"]


def test_openai_json(result: Transcription) -> None:
    assert formats.to_openai_json(result) == {"text": result.text}


def test_verbose_json_matches_openai_shape(result: Transcription) -> None:
    body = formats.to_verbose_json(result)
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    assert body["duration"] == 3725.25
    assert body["text"] == result.text
    first = body["segments"][0]
    assert set(first) == {
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "temperature",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
    }
    assert first["tokens"] == [50364, 400, 50414]
    assert first["compression_ratio"] == pytest.approx(formats.compression_ratio(" Hello there."))
    assert body["words"] == [
        {"word": "Hello", "start": 0.0, "end": 0.4},
        {"word": "there.", "start": 0.5, "end": 1.5},
    ]
    assert formats.to_verbose_json(result, task="translate")["task"] == "translate"


def test_verbose_json_has_no_words_unless_the_engine_made_them() -> None:
    plain = Transcription("x", "zh", 1.0, 1.0, (_segment(0, 0, 1, "x"),))
    body = formats.to_verbose_json(plain)
    assert "words" not in body
    assert body["language"] == "chinese"


def test_recognize_json(result: Transcription) -> None:
    body = formats.to_recognize_json(result)
    assert body["text"] == "Hello there. General Kenobi."
    assert body["confidence"] == 0.7788
    assert body["language"] == "en"
    assert body["segments"][0]["words"][1] == {
        "word": "there.",
        "start": 0.5,
        "end": 1.5,
        "probability": 0.8,
    }
    assert "words" not in body["segments"][1]
    assert body["segments"][1] == {
        "start": 3723.0,
        "end": 3725.25,
        "text": "General Kenobi.",
        "confidence": 0.7788,
    }


def test_compression_ratio_grows_with_repetition() -> None:
    assert formats.compression_ratio("") == 0.0
    assert formats.compression_ratio("ha " * 100) > 5 > formats.compression_ratio("Hello there.")
