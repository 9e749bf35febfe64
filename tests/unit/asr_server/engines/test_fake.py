"""The fake engine other tests lean on: deterministic, audio-dependent, can fail on demand."""

from __future__ import annotations

import numpy as np
import pytest
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine, EngineError
from asr_server.engines.fake import FakeEngine
from asr_server.engines.registry import create_engine
from asr_server.types import SAMPLE_RATE, TranscribeOptions


def _seconds(n: float) -> np.ndarray:
    return np.zeros(int(n * SAMPLE_RATE), dtype=np.float32)


def test_factory_builds_an_unloaded_fake_engine() -> None:
    engine = create_engine(ServerConfig(engine="fake", model="tiny-fake"))
    assert isinstance(engine, FakeEngine)
    assert isinstance(engine, ASREngine)
    assert not engine.ready
    engine.load()
    assert engine.ready
    assert engine.info.name == "tiny-fake"


def test_text_depends_on_the_audio_and_is_deterministic() -> None:
    engine = FakeEngine()
    engine.load()
    a = engine.transcribe(_seconds(1.5), TranscribeOptions())
    b = engine.transcribe(_seconds(2.25), TranscribeOptions(language="de"))
    assert a.text == "fake transcript of 1.50 seconds"
    assert b.text == "fake transcript of 2.25 seconds"
    assert b.language == "de"
    assert a == engine.transcribe(_seconds(1.5), TranscribeOptions())
    assert engine.calls == 3
    assert a.segments[0].end == pytest.approx(1.5)


def test_failure_is_per_item_in_a_batch() -> None:
    engine = FakeEngine(fail_with="boom")
    engine.load()
    with pytest.raises(EngineError, match="boom"):
        engine.transcribe(_seconds(1), TranscribeOptions())
    results = engine.transcribe_batch([(_seconds(1), TranscribeOptions())] * 2)
    assert all(isinstance(r, EngineError) for r in results)
    engine.fail_with = None
    ok = engine.transcribe_batch([(_seconds(1), TranscribeOptions())])
    assert ok[0].text == "fake transcript of 1.00 seconds"  # type: ignore[union-attr]
