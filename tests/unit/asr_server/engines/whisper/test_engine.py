"""The model-free parts of the Whisper engine: device choice, the compute types it refuses,
script conversion, what it registers and which optional capabilities it has."""

from __future__ import annotations

import pytest
from asr_server.config import ServerConfig
from asr_server.engines.base import (
    ASREngine,
    BatchSizing,
    HasStreamQuality,
    ModelError,
    ReportsProgress,
)
from asr_server.engines.registry import create_engine
from asr_server.engines.whisper.engine import WhisperEngine, check_compute_type, choose_device
from asr_server.engines.whisper.quality import WhisperStreamQuality
from asr_server.types import Segment, Transcription, Word


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


CPU_TYPES = {"int8", "int8_float32", "float32"}
"""What CTranslate2 4.8 reports for a CPU without float16 (get_supported_compute_types)."""


@pytest.mark.parametrize("compute", ["int8", "int8_float32", "float32"])
def test_compute_types_the_device_runs_are_taken(compute: str) -> None:
    check_compute_type("cpu", compute, CPU_TYPES)


@pytest.mark.parametrize("compute", ["float16", "int8_float16", "bfloat16"])
def test_a_compute_type_the_device_cannot_run_fails_the_load(compute: str) -> None:
    with pytest.raises(ModelError, match=f"{compute} is not supported on cpu.*float32, int8"):
        check_compute_type("cpu", compute, CPU_TYPES)


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


def test_registered_as_faster_whisper_with_every_capability_and_not_loaded() -> None:
    engine = create_engine(ServerConfig(engine="faster-whisper", stream_encoder_context="full"))
    assert isinstance(engine, WhisperEngine) and isinstance(engine, ASREngine)
    assert not engine.ready
    for capability in (BatchSizing, ReportsProgress, HasStreamQuality):
        assert isinstance(engine, capability)
    assert engine.stream_quality() == WhisperStreamQuality(encoder_context="full")
