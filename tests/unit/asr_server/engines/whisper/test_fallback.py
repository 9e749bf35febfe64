"""Temperature fallback decisions of the batched decoder (pure)."""

from __future__ import annotations

import pytest
from asr_server.engines.whisper.fallback import FALLBACK_TEMPERATURES, Attempt, best, temperatures


def make(avg_logprob: float, ratio: float = 1.5, no_speech: float = 0.1, t: float = 0.0) -> Attempt:
    return Attempt([1, 2, 3], avg_logprob, no_speech, ratio, t)


def test_greedy_falls_back_through_the_whisper_schedule_other_temperatures_do_not() -> None:
    assert temperatures(0.0) == FALLBACK_TEMPERATURES
    assert temperatures(0.7) == (0.7,)
    assert temperatures(0.0, with_fallback=False) == (0.0,)  # one greedy pass


@pytest.mark.parametrize(
    ("attempt", "failed", "silent"),
    [
        (make(-0.3), False, False),
        (make(-0.3, ratio=3.0), True, False),  # repetitive
        (make(-1.5), True, False),  # unsure
        (make(-1.5, no_speech=0.9), False, True),  # silence: kept, skipped
        (make(-0.5, no_speech=0.9), False, False),  # confident speech despite no_speech
    ],
)
def test_failure_and_silence_follow_faster_whisper(
    attempt: Attempt, failed: bool, silent: bool
) -> None:
    assert attempt.failed is failed
    assert attempt.silent is silent


def test_when_every_temperature_fails_the_most_probable_non_repetitive_attempt_wins() -> None:
    attempts = [make(-1.2, t=0.0), make(-0.2, ratio=3.0, t=0.2), make(-1.1, t=0.4)]
    chosen = best(attempts)
    assert chosen.avg_logprob == -1.1
    assert chosen.temperature == 0.4  # the last temperature tried, for the prompt reset
    assert best([make(-2.0, ratio=3.0), make(-1.0, ratio=2.9)]).avg_logprob == -1.0
