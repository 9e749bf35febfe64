"""Whisper's temperature fallback, decided per window between batched decoding rounds.

As faster-whisper's `generate_with_fallback`: a window whose output looks like a failure
(too repetitive: gzip compression ratio > 2.4; or too unsure: mean token log-probability
< -1 without being silence) is decoded again at the next temperature. In the batched decoder
the retry joins the next round's batch instead of blocking the others; when every temperature
fails, the best attempt wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faster_whisper.transcribe import get_compression_ratio

FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6
PROMPT_RESET_TEMPERATURE = 0.5
"""Text decoded only at a temperature above this is not used as the prompt of what follows
(faster-whisper's prompt_reset_on_temperature): sampled text is likely wrong, and as a prompt it
would carry the error, or a hallucination loop, into the next window or utterance."""


@dataclass
class Attempt:
    """One decode of one window at one temperature."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    encoding: Any = None
    """This window's encoder output row (numpy) when word timestamps are wanted."""

    @property
    def silent(self) -> bool:
        return self.no_speech_prob > NO_SPEECH_THRESHOLD and self.avg_logprob <= LOG_PROB_THRESHOLD

    @property
    def failed(self) -> bool:
        return looks_failed(self.avg_logprob, self.no_speech_prob, self.compression_ratio)


def looks_failed(avg_logprob: float, no_speech_prob: float, compression_ratio: float) -> bool:
    """Whisper's checks on one decode: too repetitive or too unsure, unless it is silence."""
    if no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
        return False  # silence: no point in retrying
    return compression_ratio > COMPRESSION_RATIO_THRESHOLD or avg_logprob < LOG_PROB_THRESHOLD


def temperatures(temperature: float, with_fallback: bool = True) -> tuple[float, ...]:
    """Temperature 0 means greedy with fallback (as the engine's unbatched path and OpenAI's
    API do) unless `with_fallback` is False (one greedy pass); any other value is used alone."""
    return FALLBACK_TEMPERATURES if temperature == 0 and with_fallback else (temperature,)


def attempt(result: Any, text: str, temperature: float, encoding: Any) -> Attempt:
    """From a CTranslate2 WhisperGenerationResult (length penalty 1)."""
    tokens: list[int] = result.sequences_ids[0]
    return Attempt(
        tokens=tokens,
        avg_logprob=result.scores[0] * len(tokens) / (len(tokens) + 1),
        no_speech_prob=float(result.no_speech_prob),
        compression_ratio=get_compression_ratio(text.strip()),
        temperature=temperature,
        encoding=encoding,
    )


def best(attempts: list[Attempt]) -> Attempt:
    """Every temperature failed: the most probable attempt that is not repetitive, if any."""
    below = [a for a in attempts if a.compression_ratio <= COMPRESSION_RATIO_THRESHOLD]
    chosen = max(below or attempts, key=lambda a: a.avg_logprob)
    chosen.temperature = attempts[-1].temperature  # as faster-whisper: for the prompt reset
    return chosen
