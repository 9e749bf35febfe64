"""A decoded window's tokens -> timed segments, and where the next window starts.

Whisper's own rule (openai-whisper's `transcribe`, faster-whisper's sequential loop): the text
between two consecutive timestamp tokens is a segment; when the window ends on a closed pair
the speech may continue past it, so decoding resumes at the last timestamp; when it ends on a
single timestamp (or none) the whole window was consumed.
"""

from __future__ import annotations

from dataclasses import dataclass

TIME_PRECISION = 0.02
"""Seconds per timestamp token."""
INPUT_STRIDE = 2
"""Mel frames per encoder frame (one timestamp step)."""


@dataclass(frozen=True)
class TimedTokens:
    start: float
    end: float
    tokens: list[int]
    """Including the segment's timestamp tokens."""


def split_by_timestamps(
    tokens: list[int],
    timestamp_begin: int,
    time_offset: float,
    segment_size: int,
    segment_duration: float,
    seek: int,
) -> tuple[list[TimedTokens], int]:
    """(segments, next seek in mel frames) of one window decoded at `seek` (frames), whose
    audio starts at `time_offset` seconds and holds `segment_size` frames."""
    single_ending = len(tokens) >= 2 and tokens[-2] < timestamp_begin <= tokens[-1]
    boundaries = [
        i
        for i in range(1, len(tokens))
        if tokens[i] >= timestamp_begin and tokens[i - 1] >= timestamp_begin
    ]
    segments = []
    if boundaries:
        if single_ending:
            boundaries.append(len(tokens))
        last = 0
        for boundary in boundaries:
            piece = tokens[last:boundary]
            start = time_offset + (piece[0] - timestamp_begin) * TIME_PRECISION
            end = time_offset + (piece[-1] - timestamp_begin) * TIME_PRECISION
            segments.append(TimedTokens(start, end, piece))
            last = boundary
        if single_ending:
            seek += segment_size
        else:
            seek += (tokens[last - 1] - timestamp_begin) * INPUT_STRIDE
        return segments, seek
    duration = segment_duration
    stamps = [t for t in tokens if t >= timestamp_begin]
    if stamps and stamps[-1] != timestamp_begin:
        duration = (stamps[-1] - timestamp_begin) * TIME_PRECISION
    segments.append(TimedTokens(time_offset, time_offset + duration, tokens))
    return segments, seek + segment_size
