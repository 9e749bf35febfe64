"""Timestamp tokens -> segments and the next seek, Whisper's rule."""

from __future__ import annotations

from asr_server.engines.torch.segments import split_by_timestamps

TS = 1000  # timestamp_begin: token TS + n is n * 0.02 s


def split(tokens: list[int], offset: float = 10.0, size: int = 1100, seek: int = 1000):  # type: ignore[no-untyped-def]
    return split_by_timestamps(tokens, TS, offset, size, size / 100, seek)


def test_pairs_make_segments_and_a_final_single_timestamp_consumes_the_window() -> None:
    segments, seek = split([TS, 1, 2, TS + 50, TS + 50, 3, TS + 100])
    assert [(s.start, s.end, s.tokens) for s in segments] == [
        (10.0, 11.0, [TS, 1, 2, TS + 50]),
        (11.0, 12.0, [TS + 50, 3, TS + 100]),
    ]
    assert seek == 1000 + 1100


def test_a_closed_pair_at_the_end_resumes_at_the_last_timestamp() -> None:
    segments, seek = split([TS, 1, TS + 50, TS + 50, 3, TS + 100, TS + 100])
    assert len(segments) == 2
    assert seek == 1000 + 100 * 2  # the last timestamp, in mel frames


def test_no_pair_is_one_segment_as_long_as_its_last_timestamp() -> None:
    segments, seek = split([TS, 1, 2, TS + 40])
    assert [(s.start, s.end) for s in segments] == [(10.0, 10.8)]
    assert seek == 1000 + 1100
    segments, _ = split([1, 2])
    assert [(s.start, s.end) for s in segments] == [(10.0, 21.0)]  # the whole window
