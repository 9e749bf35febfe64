"""Stitching an item's decoded windows back into one Transcription (pure, no Whisper model)."""

from __future__ import annotations

import math

import pytest
from asr_server.engines.whisper.batched.stitch import to_transcription
from asr_server.engines.whisper.batched.windows import ItemPlan
from asr_server.types import TranscribeOptions


def test_stitching_orders_windows_and_weights_confidence() -> None:
    plan = ItemPlan(0, TranscribeOptions(), 11.0, "seek")
    plan.language = "en"
    plan.segments[(1, 0)] = [_raw(" world", 5.0, 11.0, -0.1)]
    plan.segments[(0, 0)] = [_raw(" hello", 0.0, 5.0, -0.5)]
    result = to_transcription(plan)
    assert result.text == "hello world"
    assert [s.id for s in result.segments] == [1, 2]
    expected = (5 * math.exp(-0.5) + 6 * math.exp(-0.1)) / 11
    assert result.confidence == pytest.approx(expected)


def _raw(text: str, start: float, end: float, avg_logprob: float) -> dict[str, object]:
    return {
        "text": text,
        "start": start,
        "end": end,
        "avg_logprob": avg_logprob,
        "no_speech_prob": 0.01,
        "tokens": [],
    }
