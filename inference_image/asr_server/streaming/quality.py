"""Checks on stream decodes made with the trimmed encoder context, in one greedy pass.

`acceptable`: Whisper's own checks (engines/fallback.py: not too repetitive, not too unsure,
unless silent) and `overran`. A final that fails them is decoded again with the full context
and the temperature fallback (decoding.py).

With the trimmed context (engines/windows.py encoder_frames) the decoder sometimes does not
stop at the end of the speech while Whisper's own checks (compression ratio, log-probability)
pass: it adds "uh..." segments placed seconds after the audio it was given (jfk's last
utterance cut 0.1 s later: segments up to 29.5 s for 2.9 s of audio), or repeats the last
words ("... for your country as you can do for your country as you can do ..."). The full
30 s context decodes the same audio correctly. A lone segment that merely *ends* late is
normal for short audio (tiny.en gives 0.78 s of "And so." one 0-7 s segment) and passes.
"""

from __future__ import annotations

from asr_server.engines.base import Transcription
from asr_server.engines.fallback import looks_failed

LATE_START_S = 0.5
"""A segment starting this long after the end of the audio was not heard in it."""
MAX_CHARS_PER_S = 25.0
"""Faster than any speaker (jfk: 12 characters per second; fast English about 20)."""


def overran(result: Transcription) -> bool:
    """True when the text goes on past the audio: a segment placed after it, or more text
    than the audio could hold."""
    if any(s.start >= result.duration + LATE_START_S for s in result.segments):
        return True
    return len(result.text.strip()) > MAX_CHARS_PER_S * max(result.duration, 1.0)


def failed_checks(result: Transcription) -> bool:
    """Whisper's checks on a one-window decode (engines/fallback.looks_failed): the engine
    stores the window's figures on each of its segments."""
    return any(
        looks_failed(s.avg_logprob, s.no_speech_prob, s.compression_ratio) for s in result.segments
    )


def acceptable(result: Transcription) -> bool:
    return not failed_checks(result) and not overran(result)
