"""The overrun check on stream decodes and the policy for engines without their own
(streaming/quality.py)."""

from __future__ import annotations

from asr_server.streaming.quality import PLAIN, acceptable, overran
from asr_server.types import Segment, TranscribeOptions, Transcription


def result(duration: float, *segments: tuple[float, float, str]) -> Transcription:
    parts = tuple(Segment(i, s, e, t, -0.3, 0.1, 0.7) for i, (s, e, t) in enumerate(segments))
    return Transcription("".join(t for _, _, t in segments), "en", 1.0, duration, parts)


def test_text_within_the_audio_passes() -> None:
    assert not overran(result(2.9, (0.0, 3.0, " ask what you can do for your country.")))
    # Short audio often gets one segment that ends late: the words are still right.
    assert not overran(result(0.78, (0.0, 7.0, " And so.")))
    assert not overran(result(0.0))


def test_segments_placed_after_the_audio_overran() -> None:
    seen = result(2.8, (0.0, 7.0, " ask what you can do for your country"), (7.0, 10.0, " uh..."))
    assert overran(seen)


def test_more_text_than_the_audio_could_hold_overran() -> None:
    repeated = " ask what you can do for your country" + " as you can do for your country" * 3
    assert overran(result(2.9, (0.0, 3.0, repeated)))


def test_without_an_engine_policy_nothing_is_retried_and_every_final_is_context() -> None:
    options = TranscribeOptions(language="en", prompt="hello", beam_size=5)
    passes = PLAIN.stream_passes(options)
    greedy = TranscribeOptions(language="en", prompt="hello", beam_size=1)
    assert (passes.final, passes.partial, passes.retry) == (options, greedy, None)
    doubtful = result(2.9, (0.0, 3.0, " ask"))
    assert acceptable(doubtful, PLAIN) and PLAIN.keeps_as_context(doubtful)
    assert not acceptable(result(2.8, (0.0, 7.0, " ask"), (7.0, 10.0, " uh...")), PLAIN)
