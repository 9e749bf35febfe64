"""Word alignment's pieces: the time warping path, the median filter, the alignment heads a
checkpoint names, and how timed words are given to their segments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from asr_server.engines.base import ModelError
from asr_server.engines.torch.alignment import attach_words, dtw, median_filter
from asr_server.engines.torch.checkpoint import (
    ModelDimensions,
    default_alignment_heads,
    parse_alignment_heads,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

TINY = ModelDimensions(80, 1500, 384, 6, 4, 51864, 448, 384, 6, 4)
TIMESTAMP_BEGIN = 50364


def brute_force_cost(cost: np.ndarray) -> float:
    """The cheapest monotonic path's cost by trying every path (small matrices only)."""
    rows, columns = cost.shape
    best = np.inf
    moves = [(1, 1), (1, 0), (0, 1)]
    for length in range(max(rows, columns), rows + columns):
        for path in itertools.product(moves, repeat=length - 1):
            i = j = 0
            total = cost[0, 0]
            for di, dj in path:
                i, j = i + di, j + dj
                if i >= rows or j >= columns:
                    break
                total += cost[i, j]
            else:
                if (i, j) == (rows - 1, columns - 1):
                    best = min(best, total)
    return float(best)


def test_dtw_follows_the_cheap_cells() -> None:
    cost = np.ones((3, 6))
    cost[0, :2] = cost[1, 2:4] = cost[2, 4:] = 0.0  # token 0 at frames 0-1, 1 at 2-3, 2 at 4-5
    rows, columns = dtw(cost)
    assert rows.tolist() == [0, 0, 1, 1, 2, 2]
    assert columns.tolist() == [0, 1, 2, 3, 4, 5]


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=st.floats(0, 1))
)
def test_dtw_finds_the_cheapest_monotonic_path(cost: np.ndarray) -> None:
    rows, columns = dtw(cost)
    assert (rows[0], columns[0]) == (0, 0)
    assert (rows[-1], columns[-1]) == (cost.shape[0] - 1, cost.shape[1] - 1)
    steps = np.stack([np.diff(rows), np.diff(columns)], axis=1)
    assert all(tuple(s) in {(1, 1), (1, 0), (0, 1)} for s in steps)
    assert cost[rows, columns].sum() == pytest.approx(brute_force_cost(cost))


def test_median_filter_takes_the_median_of_each_window_with_reflected_edges() -> None:
    x = torch.tensor([[[5.0, 0.0, 9.0, 1.0, 1.0, 8.0, 2.0]]])
    filtered = median_filter(x, 3)
    padded = np.pad(x.numpy()[0, 0], 1, mode="reflect")
    expected = [np.median(padded[k : k + 3]) for k in range(7)]
    assert filtered.shape == x.shape
    assert filtered[0, 0].tolist() == expected
    assert torch.equal(median_filter(x[..., :1], 7), x[..., :1])  # too short to filter


def test_alignment_heads_are_checked_against_the_model() -> None:
    assert parse_alignment_heads([[1, 0], [3, 5]], TINY) == ((1, 0), (3, 5))
    assert parse_alignment_heads(None, TINY) == default_alignment_heads(TINY)
    assert default_alignment_heads(TINY) == tuple((layer, h) for layer in (2, 3) for h in range(6))
    with pytest.raises(ModelError, match="outside the decoder"):
        parse_alignment_heads([[4, 0]], TINY)
    with pytest.raises(ModelError, match="pairs"):
        parse_alignment_heads([[1]], TINY)


def word(text: str, start: float, end: float, tokens: int = 1) -> dict[str, object]:
    return {"word": text, "tokens": list(range(tokens)), "start": start, "end": end,
            "probability": 0.9}  # fmt: skip


def test_words_go_to_their_segments_in_absolute_time_within_its_bounds() -> None:
    stamp = TIMESTAMP_BEGIN
    segments = [
        {"start": 10.0, "end": 11.0, "tokens": [stamp, 1, 2, 3, stamp + 50]},
        {"start": 11.0, "end": 12.5, "tokens": [stamp + 50, 4, stamp + 125]},
    ]
    words = [word(" a", 0.0, 0.3), word(" bc", 0.3, 0.6, tokens=2), word(" d", 1.1, 1.4)]
    attach_words(segments, words, time_offset=10.0, timestamp_begin=stamp)
    first, second = segments[0]["words"], segments[1]["words"]
    assert [w["word"] for w in first] == [" a", " bc"] and [w["word"] for w in second] == [" d"]
    assert [(w["start"], w["end"]) for w in first] == [(10.0, 10.3), (10.3, 10.6)]
    assert (second[0]["start"], second[0]["end"]) == (11.1, 11.4)


def test_a_word_stretched_over_a_pause_is_cut_to_twice_the_median_length() -> None:
    stamp = TIMESTAMP_BEGIN
    segments = [{"start": 0.0, "end": 6.0, "tokens": [stamp, 1, 2, 3, 4, stamp + 300]}]
    words = [word(" a", 0.0, 3.0), word(" b", 3.0, 3.2), word(" c", 3.2, 3.4), word(" d", 3.4, 6.0)]
    attach_words(segments, words, time_offset=0.0, timestamp_begin=stamp)
    timed = [(w["start"], w["end"]) for w in segments[0]["words"]]
    # The median of 3.0, 0.2, 0.2 and 2.6 s is 1.4, capped at 0.7: at most 1.4 s at the edges.
    assert timed == [(1.6, 3.0), (3.0, 3.2), (3.2, 3.4), (3.4, 4.8)]
