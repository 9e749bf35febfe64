"""What the streaming layer checks on a stream's decode, whatever the engine, and the policy it
uses when the engine has none of its own.

`overran`: the text goes on past the audio it was decoded from. A final whose first decode
overran, or that the engine's own checks fail (engines/base.StreamQuality.needs_retry), is
decoded again with the engine's retry options (decoding.py); a partial that overran is not
shown. With Whisper's trimmed encoder context (engines/whisper/quality.py) the decoder sometimes
does not stop at the end of the speech while Whisper's own checks (compression ratio,
log-probability) pass: it adds "uh..." segments placed seconds after the audio it was given
(jfk's last utterance cut 0.1 s later: segments up to 29.5 s for 2.9 s of audio), or repeats
the last words ("... for your country as you can do for your country as you can do ..."). The
full 30 s context decodes the same audio correctly. A lone segment that merely *ends* late is
normal for short audio (tiny.en gives 0.78 s of "And so." one 0-7 s segment) and passes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from asr_server.engines.base import StreamPasses, StreamQuality
from asr_server.types import GREEDY, TranscribeOptions, Transcription

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


def acceptable(result: Transcription, quality: StreamQuality) -> bool:
    """A final's first decode needs no second one."""
    return not quality.needs_retry(result) and not overran(result)


@dataclass(frozen=True)
class PlainStreamQuality:
    """For an engine without a stream-quality policy: every decode is one decode with the
    stream's options (partials greedy: they are replaced by the final anyway), nothing is
    retried, every final is context for the next."""

    def stream_passes(self, options: TranscribeOptions) -> StreamPasses:
        return StreamPasses(final=options, partial=dataclasses.replace(options, beam_size=GREEDY))

    def needs_retry(self, result: Transcription) -> bool:
        return False

    def keeps_as_context(self, result: Transcription) -> bool:
        return True


PLAIN = PlainStreamQuality()
