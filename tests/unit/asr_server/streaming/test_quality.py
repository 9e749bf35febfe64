"""The overrun check on trimmed-context stream decodes (streaming/quality.py)."""

from __future__ import annotations

from asr_server.engines.base import Segment, Transcription
from asr_server.streaming.quality import acceptable, failed_checks, overran


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


def scored(avg_logprob: float, no_speech: float = 0.1, ratio: float = 1.0) -> Transcription:
    segment = Segment(0, 0.0, 1.4, " S NOT!", avg_logprob, no_speech, 0.3, compression_ratio=ratio)
    return Transcription(segment.text, "en", 1.0, 1.4, (segment,))


def test_whisper_checks_on_a_one_pass_decode() -> None:
    assert acceptable(scored(-0.87))
    assert failed_checks(scored(-1.05))  # tiny.en's trimmed "S NOT!" for "Ask not!"
    assert failed_checks(scored(-0.5, ratio=3.0))  # too repetitive
    assert not failed_checks(scored(-1.5, no_speech=0.9))  # silence: nothing to retry
    assert not acceptable(scored(-1.05))
