"""Whisper's quality checks, and the fallback decided per window between batched decoding rounds.

The checks are faster-whisper's: a decode fails when it looks too repetitive (gzip compression
ratio of its text > 2.4) or too unsure (mean token log-probability < -1), unless it is silence
(no-speech probability > 0.6 and log-probability <= -1). In the batched decoder a failed window
is decoded again in the next round's batch instead of blocking the others.

Where this differs from faster-whisper, and why:

- **Deterministic fallback passes.** faster-whisper retries a failed window by sampling at
  temperatures 0.2 ... 1.0 (`best_of` 5 samples each). CTranslate2 cannot seed a sampled decode
  per call: its random generator is thread-local, seeded once per worker thread, and
  `set_random_seed` before a call changes nothing (CTranslate2 issue 1757; checked with 4.8.5),
  so the same audio would give different text from one request to the next, and the result
  cache would freeze whichever came first. Instead the retry is one beam search (beam 5, its 5
  best hypotheses as candidates), which is deterministic: the same audio and options give the
  same text on every request and every replica. A request that asks for a temperature > 0 gets
  what it asked for, sampling with `best_of` candidates, and is random by nature.
- **Speech that really repeats is kept.** faster-whisper, when every attempt fails, keeps the
  most probable attempt *under* the compression threshold however improbable it is. Speech
  that really repeats (jfk three times, a phone menu read four times) fails the compression
  check with a confident decode (avg log-probability -0.2 to -0.3, compression ratio 3.3-4.1);
  the only attempts under the threshold were samples that garbled it (-3 to -4: "Eh. Snil I
  Marks" for 26 s of "ask not what your country..."), and that was what was kept. Here a
  *credible repetition* — confident (log-probability >= -1) and closed by the decoder itself
  with a timestamp (a runaway hallucination loop runs into the length limit instead) — is
  kept over any attempt that fails a check; an attempt that passes both checks still wins.
- The candidates of one pass are tried in the decoder's score order: the first that passes
  the checks is taken.

Measured (`bench/longform.py`, whisper-tiny.en int8, 2 CPUs, 20 runs per input, through the
server and faster-whisper's own `transcribe` in-process, load average 10-11): runs that lost a
reference clause or menu option, mean WER, distinct texts — jfk x3: server 0/20, 0.000, 1;
faster-whisper 0/20, 0.030, 1. jfk + sentences + jfk with pauses: 0/20, 0.014, 1 vs 0/20,
0.014, 1. Phone menu x4: 0/20, 0.234, 1 vs 17/20, 0.827, 6 (it loses the first 30 s). The
retry also costs less: one beam-5 pass instead of up to five sampled ones (jfk x3 11.1 s per
request through the server vs 22.2 s in faster-whisper under that load).

When every attempt failed and none is a credible repetition, the choice is faster-whisper's:
the most probable attempt under the compression threshold, else the most probable of all. The
item's previous text is not used as the next window's prompt after such a window (as
faster-whisper's `prompt_reset_on_temperature` after a fallback that reached 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faster_whisper.transcribe import get_compression_ratio

COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6
BEST_OF = 5
"""Candidates per retry: the beam width (and hypotheses) of the fallback pass, and the samples
of a request that asks for a temperature > 0 (faster-whisper's `best_of`)."""
PROMPT_RESET_TEMPERATURE = 0.5
"""Text sampled above this temperature is not used as the next window's prompt (faster-whisper's
`prompt_reset_on_temperature`): it is likely wrong, and as a prompt it would carry the error."""


@dataclass(frozen=True, order=True)
class DecodePass:
    """How one decode of a window is made: what one generate call shares for all its rows."""

    beam_size: int
    hypotheses: int
    """Candidates returned (the best first)."""
    temperature: float
    """0: beam search / greedy; > 0: sampling."""


def passes(
    temperature: float, beam_size: int, with_fallback: bool = True
) -> tuple[DecodePass, ...]:
    """The decodes a window may get, in order; the next is made only when the previous one's
    candidates all fail the checks. Temperature 0 is the request's beam (greedy at 1), then,
    with `with_fallback` (False: one pass, for best-effort work such as a stream's partials),
    the deterministic beam-5 retry. A temperature > 0 is one sampled pass."""
    if temperature > 0:
        return (DecodePass(1, BEST_OF, temperature),)
    first = DecodePass(beam_size, min(beam_size, BEST_OF), 0.0)
    if not with_fallback or beam_size >= BEST_OF:
        return (first,)
    return (first, DecodePass(BEST_OF, BEST_OF, 0.0))


@dataclass
class Attempt:
    """One candidate decode of one window."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    closed: bool = True
    """The decoder ended its last segment with a timestamp (it stopped on its own) rather than
    running into the length limit mid-text."""
    encoding: Any = None
    """This window's encoder output row (numpy) when word timestamps are wanted."""

    @property
    def silent(self) -> bool:
        return self.no_speech_prob > NO_SPEECH_THRESHOLD and self.avg_logprob <= LOG_PROB_THRESHOLD

    @property
    def failed(self) -> bool:
        return looks_failed(self.avg_logprob, self.no_speech_prob, self.compression_ratio)

    @property
    def repetitive(self) -> bool:
        return self.compression_ratio > COMPRESSION_RATIO_THRESHOLD

    @property
    def credible_repetition(self) -> bool:
        """Repetitive, but confident and closed: speech that really repeats."""
        return self.repetitive and self.avg_logprob >= LOG_PROB_THRESHOLD and self.closed

    @property
    def resets_prompt(self) -> bool:
        """Whether the window's text must not prompt the next window."""
        return self.failed or self.temperature > PROMPT_RESET_TEMPERATURE


def looks_failed(avg_logprob: float, no_speech_prob: float, compression_ratio: float) -> bool:
    """Whisper's checks on one decode: too repetitive or too unsure, unless it is silence."""
    if no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
        return False  # silence: no point in retrying
    return compression_ratio > COMPRESSION_RATIO_THRESHOLD or avg_logprob < LOG_PROB_THRESHOLD


def attempts(
    result: Any, texts: Sequence[str], decode: DecodePass, timestamp_begin: int, encoding: Any
) -> list[Attempt]:
    """The candidates of a CTranslate2 WhisperGenerationResult (length penalty 1), best first;
    `texts` are their decoded texts."""
    found = []
    for tokens, score, text in zip(result.sequences_ids, result.scores, texts, strict=True):
        found.append(
            Attempt(
                tokens=list(tokens),
                avg_logprob=score * len(tokens) / (len(tokens) + 1),
                no_speech_prob=float(result.no_speech_prob),
                compression_ratio=get_compression_ratio(text.strip()),
                temperature=decode.temperature,
                closed=bool(tokens) and tokens[-1] >= timestamp_begin,
                encoding=encoding,
            )
        )
    return found


def passing(candidates: Sequence[Attempt]) -> Attempt | None:
    """The first candidate (in score order) that passes the checks."""
    return next((a for a in candidates if not a.failed), None)


def best(tried: Sequence[Attempt]) -> Attempt:
    """Every pass failed: the most probable credible repetition, else faster-whisper's choice
    (the most probable attempt that is not repetitive, if any)."""
    repeats = [a for a in tried if a.credible_repetition]
    below = [a for a in tried if not a.repetitive]
    return max(repeats or below or tried, key=lambda a: a.avg_logprob)
