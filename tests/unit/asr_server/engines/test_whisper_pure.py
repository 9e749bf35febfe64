"""The model-free parts of the Whisper engine: device choice, confidence, script conversion."""

from __future__ import annotations

import math

import pytest
from asr_server.config import ServerConfig
from asr_server.engines.base import Segment, Transcription, Word
from asr_server.engines.whisper import (
    WhisperEngine,
    choose_device,
    confidence,
    overall_confidence,
)


@pytest.mark.parametrize(
    ("device", "compute", "gpus", "expected"),
    [
        ("auto", "auto", 0, ("cpu", "int8")),
        ("auto", "auto", 1, ("cuda", "float16")),
        ("cpu", "auto", 4, ("cpu", "int8")),
        ("cuda", "auto", 0, ("cuda", "float16")),
        ("auto", "int8_float16", 2, ("cuda", "int8_float16")),
        ("cpu", "float32", 0, ("cpu", "float32")),
    ],
)
def test_choose_device(device: str, compute: str, gpus: int, expected: tuple[str, str]) -> None:
    assert choose_device(device, compute, gpus) == expected


def _seg(start: float, end: float, conf: float, text: str = "x") -> Segment:
    return Segment(0, start, end, text, math.log(conf), 0.0, conf)


def test_confidence_is_clamped_geometric_mean_probability() -> None:
    assert confidence(math.log(0.8)) == pytest.approx(0.8)
    assert confidence(0.3) == 1.0
    assert confidence(-math.inf) == 0.0


def test_overall_confidence_is_duration_weighted() -> None:
    assert overall_confidence([_seg(0, 3, 0.9), _seg(3, 4, 0.5)]) == pytest.approx(0.8)
    assert overall_confidence([_seg(1, 1, 0.9), _seg(1, 1, 0.5)]) == pytest.approx(0.7)
    assert overall_confidence([]) == 0.0


@pytest.mark.parametrize(
    ("script", "language", "expected"),
    [
        ("simplified", "zh", "这是测试"),
        ("traditional", "zh", "這是測試"),
        ("as-is", "zh", "這是测试"),
        ("simplified", "ja", "這是测试"),  # only Chinese is converted
    ],
)
def test_postprocess_converts_chinese_script(script: str, language: str, expected: str) -> None:
    engine = WhisperEngine(ServerConfig(output_script=script))
    words = (Word(0, 1, "這是", 0.9), Word(1, 2, "测试", 0.9))
    result = Transcription(
        "這是测试", language, 1.0, 2.0, (Segment(0, 0, 2, "這是测试", -0.1, 0, 0.9, words),), 0.9
    )
    converted = engine.postprocess(result)
    assert converted.text == expected
    assert converted.segments[0].text == expected
    assert "".join(w.text for w in converted.segments[0].words) == expected
