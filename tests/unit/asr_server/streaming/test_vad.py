"""Streaming Silero VAD: same probabilities as faster-whisper's offline call, real speech."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from asr_server.streaming.vad import WINDOW_SAMPLES, Endpointer, EndpointSettings, SileroStream
from faster_whisper.vad import get_speech_timestamps, get_vad_model


def test_incremental_probabilities_equal_the_offline_model(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    audio = jfk_samples[: WINDOW_SAMPLES * 200]
    offline = get_vad_model()(audio.copy())
    stream = SileroStream()
    online: list[float] = []
    # Uneven frame sizes: windows straddle frames and the leftover must carry over.
    for start, size in zip(range(0, len(audio), 1234), [1234] * len(audio), strict=False):
        online += stream.feed(audio[start : start + size])
    assert len(online) == len(offline) == 200
    np.testing.assert_allclose(
        online, np.asarray(offline).reshape(-1), atol=2e-3
    )  # batch-shape float noise only


def test_silence_gives_no_speech() -> None:
    stream = SileroStream()
    probs = stream.feed(np.zeros(16_000, dtype=np.float32))
    assert len(probs) == 16_000 // WINDOW_SAMPLES
    assert max(probs) < 0.5


def test_endpointer_agrees_with_offline_speech_timestamps(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    silence = np.zeros(16_000 * 2, dtype=np.float32)
    audio = np.concatenate([jfk_samples, silence])
    endpointer = Endpointer(EndpointSettings(min_silence_s=0.5))
    events = endpointer.update(SileroStream().feed(audio))
    starts = [e.sample for e in events if e.kind == "start"]
    ends = [e.sample for e in events if e.kind == "end"]
    assert len(starts) == len(ends) >= 1
    assert not endpointer.in_speech  # the trailing silence closed the last utterance
    offline = get_speech_timestamps(audio, min_silence_duration_ms=500, speech_pad_ms=0)
    # First onset and last offset within a few windows of faster-whisper's own segmentation.
    assert abs(starts[0] - offline[0]["start"]) <= 4 * WINDOW_SAMPLES
    assert abs(ends[-1] - offline[-1]["end"]) <= 8 * WINDOW_SAMPLES


@pytest.mark.parametrize(("silence_ms", "windows"), [(300, 10), (320, 10), (400, 13), (500, 16)])
def test_the_endpoint_silence_is_at_least_what_was_asked(silence_ms: int, windows: int) -> None:
    # Counted in whole 32 ms windows, rounded up: 300 ms ends after 10 silent windows (320 ms).
    endpointer = Endpointer(EndpointSettings(min_silence_s=silence_ms / 1000))
    assert [e.kind for e in endpointer.update([0.9] * 10)] == ["start"]
    assert endpointer.update([0.1] * (windows - 1)) == []
    assert [e.kind for e in endpointer.update([0.1])] == ["end"]
