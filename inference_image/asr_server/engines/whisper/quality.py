"""The Whisper engine's stream-quality policy (engines/base.StreamQuality): how live streams
decode on it, and when a final needs a second decode.

A stream's utterances are short, so Whisper's padded 30 s window would be mostly padding: by
default (ASR_STREAM_ENCODER_CONTEXT=trimmed) a final is first decoded with the trimmed context in
one greedy pass, the options of partials too. Only a result that fails Whisper's own checks
(`failed_checks`: too repetitive or too unsure, unless silent) or overruns its audio
(streaming/quality.overran) is decoded again, with the full context and the fallback, as a new
request: the engine would make the same retry inside the batch, where every
other stream's final in that batch would wait for it. With the full context a final gets
Whisper's full treatment at once and is never decoded twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from asr_server.engines.base import StreamPasses
from asr_server.engines.whisper.fallback import PROMPT_RESET_TEMPERATURE, looks_failed
from asr_server.engines.whisper.options import WhisperOptions
from asr_server.types import GREEDY, TranscribeOptions, Transcription


def failed_checks(result: Transcription) -> bool:
    """Whisper's checks on a one-window decode (fallback.looks_failed): the engine stores the
    window's figures on each of its segments."""
    return any(
        looks_failed(s.avg_logprob, s.no_speech_prob, s.compression_ratio) for s in result.segments
    )


@dataclass(frozen=True)
class WhisperStreamQuality:
    encoder_context: str = "trimmed"
    """The encoder context of a stream's first decodes (ASR_STREAM_ENCODER_CONTEXT)."""

    def stream_passes(self, options: TranscribeOptions) -> StreamPasses:
        context = self.encoder_context
        full = dataclasses.replace(options, engine=WhisperOptions(encoder_context="full"))
        final = dataclasses.replace(
            options, engine=WhisperOptions(encoder_context=context, fallback=context == "full")
        )
        # A partial is best-effort: one greedy pass, whatever beam the stream's finals use.
        # The fallback would decode mid-word audio (which often "fails" the checks) again, and
        # a final arriving meanwhile would wait for it.
        partial = dataclasses.replace(
            options,
            beam_size=GREEDY,
            engine=WhisperOptions(encoder_context=context, fallback=False),
        )
        return StreamPasses(final=final, partial=partial, retry=None if final == full else full)

    def needs_retry(self, result: Transcription) -> bool:
        return failed_checks(result)

    def keeps_as_context(self, result: Transcription) -> bool:
        """Not a final that failed Whisper's checks or was sampled (likely wrong: as a prompt it
        would carry the error, or a hallucination loop, into the next utterances;
        faster-whisper's prompt_reset_on_temperature, fallback.PROMPT_RESET_TEMPERATURE)."""
        if failed_checks(result):
            return False
        return not any(s.temperature > PROMPT_RESET_TEMPERATURE for s in result.segments)
