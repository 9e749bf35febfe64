"""Window planning for the batched decoder: pure numpy, no Whisper model."""

from __future__ import annotations

import numpy as np
import pytest
from asr_server.engines.base import EngineError
from asr_server.engines.whisper.batched.stitch import to_transcription
from asr_server.engines.whisper.batched.windows import (
    WINDOW_FRAMES,
    encoder_frames,
    follow_up,
    plan_item,
    speech_spans,
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
    assert [w.order for w in windows] == [(0, 0)]
    assert windows[0].features.shape == (80, WINDOW_FRAMES)
    assert windows[0].segment_size == windows[0].source.shape[-1] == 1100
    after = follow_up(windows[0], next_seek=754)
    assert after is not None and after.order == (0, 1)
    assert after.segment_size == 1100 - 754
    assert after.time_offset == pytest.approx(7.54)
    assert follow_up(windows[0], next_seek=1100) is None  # decoded to the end
    assert follow_up(after, next_seek=754) is None  # no progress: no loop


def test_a_chunk_whose_decoder_stopped_early_continues_within_the_chunk(
    extractor: FeatureExtractor,
) -> None:
    audio = tone_bursts(70.0, gaps=[(20.0, 21.5), (45.0, 46.5)])
    _, windows = plan_item(3, audio, TranscribeOptions(), extractor)
    second = windows[1]
    after = follow_up(second, next_seek=second.seek + 500)
    assert after is not None and after.order == (1, 1)
    assert after.time_offset == pytest.approx(second.time_offset + 5.0)
    assert after.segment_size == second.segment_size - 500
    assert follow_up(second, next_seek=second.seek + second.segment_size) is None


def test_long_audio_is_cut_into_vad_chunks_of_at_most_30_seconds(
    extractor: FeatureExtractor,
) -> None:
    audio = tone_bursts(70.0, gaps=[(20.0, 21.5), (45.0, 46.5)])
    plan, windows = plan_item(3, audio, TranscribeOptions(), extractor)
    assert plan.mode == "chunks"
    assert len(windows) >= 3
    assert [w.order for w in windows] == sorted(w.order for w in windows)
    for window in windows:
        assert window.segment_duration <= 30.0
        assert window.features.shape == (80, WINDOW_FRAMES)
    offsets = [w.time_offset for w in windows]
    assert offsets == sorted(offsets)
    # stretches of the original audio, pauses included: times need no mapping back
    ends = [w.time_offset + w.segment_duration for w in windows]
    assert all(end <= start for end, start in zip(ends, offsets[1:], strict=False))
    assert ends[-1] <= 70.0


def test_speech_spans_keep_the_pauses_and_never_exceed_the_limit() -> None:
    speech = [{"start": 0, "end": 10}, {"start": 12, "end": 20}, {"start": 25, "end": 31}]
    assert speech_spans(speech, limit=20) == [(0, 20), (25, 31)]
    assert speech_spans(speech, limit=31) == [(0, 31)]
    assert speech_spans(speech, limit=5) == [(0, 10), (12, 20), (25, 31)]  # regions as they are
    assert speech_spans([]) == []


def test_speech_spans_end_at_the_widest_pause_in_their_second_half() -> None:
    # sentence, comma pause, sentence, ...: the cut goes where the sentence ends
    speech = [
        {"start": 0, "end": 5},
        {"start": 5, "end": 10},
        {"start": 11, "end": 14},
        {"start": 14, "end": 19},
        {"start": 19, "end": 22},
    ]
    assert speech_spans(speech, limit=20) == [(0, 10), (11, 22)]
    # no pause in the second half: the widest one anywhere
    speech = [{"start": 0, "end": 4}, {"start": 6, "end": 8}, {"start": 8, "end": 22}]
    assert speech_spans(speech, limit=20) == [(0, 4), (6, 22)]


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
