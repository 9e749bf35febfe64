"""A check on stream decodes made with the trimmed encoder context.

With the trimmed context (engines/windows.py encoder_frames) the decoder sometimes does not
stop at the end of the speech: it repeats the last words or adds "uh..." segments, with
timestamps running seconds past the audio it was given (jfk's last utterance cut 0.1 s later:
segments up to 29.5 s for 2.9 s of audio), while Whisper's own checks (compression ratio,
log-probability) pass. Timestamps past the audio are the tell: the full 30 s context decodes
the same audio correctly.
"""

from __future__ import annotations

from asr_server.engines.base import Transcription

OVERRUN_TOLERANCE_S = 2.0
"""Whisper's timestamps are coarse near the end of short audio (whisper-base gives 0.78 s of
"and so" one 0-2.0 s segment); the overruns seen were 4-27 s."""


def overran(result: Transcription) -> bool:
    """True when a segment ends well after the audio that was decoded."""
    return any(s.end > result.duration + OVERRUN_TOLERANCE_S for s in result.segments)
