"""Window planning for the batched decoder: pure numpy, no Whisper model."""

from __future__ import annotations

import numpy as np
import pytest
from asr_server.engines.base import EngineError
from asr_server.engines.whisper.batched.stitch import to_transcription
from asr_server.engines.whisper.batched.windows import (
    WINDOW_FRAMES,
    encoder_frames,
    plan_item,
    seek_window,
    validate_audio,
)
from asr_server.types import SAMPLE_RATE, TranscribeOptions
from faster_whisper.feature_extractor import FeatureExtractor


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor()


def tone_bursts(seconds: float, gaps: list[tuple[float, float]] | None = None) -> np.ndarray:
    """A speech-band signal with silent gaps; Silero VAD still finds it voiced enough."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    for start, end in gaps or []:
        audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] = 0
    return audio


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.array([0.1, np.nan], dtype=np.float32), "non-finite"),
        (np.zeros((2, 100), dtype=np.float32), "one-dimensional"),
    ],
)
def test_unusable_audio_is_an_engine_error(audio: np.ndarray, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        validate_audio(audio)


def test_short_audio_is_one_seek_window_over_the_whole_clip(extractor: FeatureExtractor) -> None:
    audio = tone_bursts(11.0)
    plan, windows = plan_item(0, audio, TranscribeOptions(), extractor)
    assert plan.mode == "seek"
    assert [w.order for w in windows] == [0]
    assert windows[0].features.shape == (80, WINDOW_FRAMES)
    assert windows[0].segment_size == plan.content_frames == 1100
    follow_up = seek_window(plan, seek=754, order=1)
    assert follow_up.segment_size == 1100 - 754
    assert follow_up.time_offset == pytest.approx(7.54)


def test_long_audio_is_cut_into_vad_chunks_of_at_most_30_seconds(
    extractor: FeatureExtractor,
) -> None:
    audio = tone_bursts(70.0, gaps=[(20.0, 21.5), (45.0, 46.5)])
    plan, windows = plan_item(3, audio, TranscribeOptions(), extractor)
    assert plan.mode == "chunks"
    assert plan.timestamp_map is not None
    assert len(windows) >= 3
    assert [w.order for w in windows] == sorted(w.order for w in windows)
    for window in windows:
        assert window.segment_duration <= 30.0
        assert window.features.shape == (80, WINDOW_FRAMES)
    offsets = [w.time_offset for w in windows]
    assert offsets == sorted(offsets)


def test_vad_filter_on_silence_plans_no_windows(extractor: FeatureExtractor) -> None:
    plan, windows = plan_item(
        0, np.zeros(5 * SAMPLE_RATE, np.float32), TranscribeOptions(vad_filter=True), extractor
    )
    assert windows == []
    result = to_transcription(plan)
    assert result.text == ""
    assert result.segments == ()
    assert result.duration == 5.0


@pytest.mark.parametrize(
    ("content", "frames"),
    [
        (50, 1000),  # a short partial still gets 10 s: less made tiny.en loop
        (700, 1000),
        (1100, 1400),  # jfk (11 s): the content, 3 s of silence, whole seconds
        (1101, 1500),
        (2800, WINDOW_FRAMES),  # never more than Whisper's window
        (3000, WINDOW_FRAMES),
    ],
)
def test_a_trimmed_context_is_the_content_plus_three_seconds(content: int, frames: int) -> None:
    assert encoder_frames(content, trimmed=True) == frames
    assert encoder_frames(content, trimmed=False) == WINDOW_FRAMES
