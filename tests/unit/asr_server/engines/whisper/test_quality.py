"""The Whisper engine's stream-quality policy (engines/whisper/quality.py): which options each
kind of stream decode gets, Whisper's checks on a one-pass final, and which finals are context."""

from __future__ import annotations

from asr_server.engines.whisper.options import WhisperOptions
from asr_server.engines.whisper.quality import WhisperStreamQuality, failed_checks
from asr_server.streaming.quality import acceptable
from asr_server.types import Segment, TranscribeOptions, Transcription

POLICY = WhisperStreamQuality()


def scored(avg_logprob: float, no_speech: float = 0.1, ratio: float = 1.0) -> Transcription:
    segment = Segment(0, 0.0, 1.4, " S NOT!", avg_logprob, no_speech, 0.3, compression_ratio=ratio)
    return Transcription(segment.text, "en", 1.0, 1.4, (segment,))


def test_whisper_checks_on_a_one_pass_decode() -> None:
    assert acceptable(scored(-0.87), POLICY)
    assert failed_checks(scored(-1.05))  # tiny.en's trimmed "S NOT!" for "Ask not!"
    assert failed_checks(scored(-0.5, ratio=3.0))  # too repetitive
    assert not failed_checks(scored(-1.5, no_speech=0.9))  # silence: nothing to retry
    assert not acceptable(scored(-1.05), POLICY)


def test_trimmed_finals_are_one_pass_then_retried_with_the_full_context() -> None:
    options = TranscribeOptions(language="en", hotwords="Stella", beam_size=5)
    passes = POLICY.stream_passes(options)
    assert passes.final.engine == WhisperOptions(encoder_context="trimmed", fallback=False)
    assert passes.partial.engine == WhisperOptions(encoder_context="trimmed", fallback=False)
    assert passes.retry is not None
    assert passes.retry.engine == WhisperOptions(encoder_context="full", fallback=True)
    assert passes.retry.hotwords == passes.final.hotwords == "Stella"
    # the stream's beam for its finals and their retry; partials are greedy
    assert passes.final.beam_size == passes.retry.beam_size == 5
    assert passes.partial.beam_size == 1


def test_full_context_finals_get_the_fallback_at_once_and_no_retry() -> None:
    passes = WhisperStreamQuality(encoder_context="full").stream_passes(TranscribeOptions())
    assert passes.final.engine == WhisperOptions(encoder_context="full", fallback=True)
    assert passes.partial.engine == WhisperOptions(encoder_context="full", fallback=False)
    assert passes.retry is None


def test_a_final_the_fallback_sampled_is_not_context() -> None:
    sampled = Segment(0, 0.0, 1.0, " x", -0.3, 0.1, 0.7, temperature=0.8)
    greedy = Segment(0, 0.0, 1.0, " x", -0.3, 0.1, 0.7, temperature=0.4)
    assert not POLICY.keeps_as_context(Transcription(" x", "en", 1.0, 1.0, (sampled,)))
    assert POLICY.keeps_as_context(Transcription(" x", "en", 1.0, 1.0, (greedy,)))
