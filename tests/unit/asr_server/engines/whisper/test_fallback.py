"""Fallback decisions of the batched decoder (pure): which passes a window gets, which
candidate is kept."""

from __future__ import annotations

import pytest
from asr_server.engines.whisper.fallback import BEST_OF, Attempt, DecodePass, best, passes, passing


def make(
    avg_logprob: float,
    ratio: float = 1.5,
    no_speech: float = 0.1,
    t: float = 0.0,
    closed: bool = True,
) -> Attempt:
    return Attempt([1, 2, 3], avg_logprob, no_speech, ratio, t, closed)


def test_greedy_falls_back_to_one_deterministic_beam_pass_sampling_is_one_pass() -> None:
    greedy, retry = passes(0.0, beam_size=1)
    assert greedy == DecodePass(1, 1, 0.0)
    assert retry == DecodePass(BEST_OF, BEST_OF, 0.0)  # beam search: no randomness
    assert passes(0.0, beam_size=1, with_fallback=False) == (greedy,)  # one greedy pass
    assert passes(0.0, beam_size=5) == (DecodePass(5, 5, 0.0),)  # already the retry's beam
    assert passes(0.0, beam_size=2) == (DecodePass(2, 2, 0.0), retry)
    assert passes(0.7, beam_size=1) == (DecodePass(1, BEST_OF, 0.7),)  # asked-for sampling


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


def test_the_first_candidate_that_passes_is_taken_in_score_order() -> None:
    candidates = [make(-0.2, ratio=3.0), make(-0.3), make(-0.25)]
    assert passing(candidates) is candidates[1]
    assert passing([make(-0.2, ratio=3.0), make(-1.2)]) is None


def test_a_confident_closed_repetition_beats_every_improbable_retry() -> None:
    # jfk three times: greedy is right and repetitive; the only non-repetitive decode is noise.
    repeated, garbled = make(-0.2, ratio=3.3), make(-4.0, ratio=1.5)
    assert best([repeated, garbled]) is repeated
    assert best([make(-0.4, ratio=3.1), repeated, garbled]) is repeated  # the most probable


def test_without_a_credible_repetition_the_most_probable_non_repetitive_attempt_wins() -> None:
    loop = make(-0.2, ratio=3.0, closed=False)  # ran into the length limit: a runaway loop
    unsure_loop = make(-1.3, ratio=3.0)
    attempts = [make(-1.2), loop, make(-1.1), unsure_loop]
    assert best(attempts).avg_logprob == -1.1
    assert best([make(-2.0, ratio=3.0, closed=False), make(-1.0, ratio=2.9)]).avg_logprob == -1.0


def test_a_window_that_failed_every_pass_or_was_sampled_hot_does_not_prompt_the_next() -> None:
    assert make(-0.2, ratio=3.0).resets_prompt  # kept, but its text failed a check
    assert make(-0.3, t=0.6).resets_prompt
    assert not make(-0.3, t=0.4).resets_prompt
    assert not make(-0.3).resets_prompt
