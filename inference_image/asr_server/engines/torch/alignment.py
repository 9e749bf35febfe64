"""Word timings from the decoder's cross-attention: Whisper's alignment by dynamic time warping.

A window's text tokens are decoded once more, in one pass, after the start-of-transcript
prompt; the cross-attention logits of the model's alignment heads (checkpoint.py) over the
window's audio frames are normalised per head across the tokens, smoothed along time by a
median filter, averaged over the heads, and the cheapest monotonic path through the negated
token x frame matrix (`dtw`) says at which frame each token starts. Words are the tokenizer's
own split (at spaces, or at every whole character for languages written without them), with
punctuation joined to its neighbour as faster-whisper does, so both engines cut words alike.
Each word's probability is the mean of its tokens'. Its times are clipped to its segment, and a
first or last word stretched over a pause is cut to twice the median word length (capped at
0.7 s), the pause Whisper's attention smears a word into.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import merge_punctuations

from asr_server.engines.torch.checkpoint import AlignmentHeads
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.segments import TIME_PRECISION
from asr_server.engines.whisper.batched.segments import (
    APPEND_PUNCTUATIONS,
    PREPEND_PUNCTUATIONS,
)

MEDIAN_FILTER_WIDTH = 7
"""Encoder frames (20 ms each) the attention is smoothed over, as Whisper's own alignment."""
MAX_WORD_SECONDS = 0.7
"""Cap of the median word length that bounds a word stretched over a pause (twice this)."""


@dataclass(frozen=True)
class TokenTiming:
    """Where each text token starts and ends in a window, and how sure the decoder was of it."""

    starts: npt.NDArray[np.float64]
    """Seconds from the window's start, per text token and then the end of text."""
    probabilities: npt.NDArray[np.float64]
    """Per text token."""


def dtw(cost: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The cheapest monotonic path from (0, 0) to the last cell of `cost` (rows x columns),
    moving down, right or diagonally: (row indices, column indices) along it. The
    accumulation runs over anti-diagonals, each one numpy step, as every cell of one depends
    only on the two before it."""
    rows, columns = cost.shape
    total = np.full((rows + 1, columns + 1), np.inf)
    total[0, 0] = 0.0
    step = np.zeros((rows + 1, columns + 1), dtype=np.int8)  # 0 diagonal, 1 down, 2 right
    for diagonal in range(2, rows + columns + 1):
        i = np.arange(max(1, diagonal - columns), min(rows, diagonal - 1) + 1)
        j = diagonal - i
        before = np.stack([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]])
        choice = before.argmin(axis=0)
        total[i, j] = cost[i - 1, j - 1] + before[choice, np.arange(len(i))]
        step[i, j] = choice
    path = []
    i, j = rows, columns
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        move = step[i, j]
        if move == 0:
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
    found = np.array(path[::-1], dtype=np.int64)
    return found[:, 0], found[:, 1]


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """A median filter along the last axis (edges reflected), for odd `width`."""
    half = width // 2
    if half == 0 or x.shape[-1] <= half:
        return x
    padded = F.pad(x.reshape(1, -1, x.shape[-1]), (half, half), mode="reflect")
    return padded.unfold(-1, width, 1).median(dim=-1).values.reshape(x.shape)


def token_timing(
    model: Whisper,
    encoding: torch.Tensor,
    tokenizer: Tokenizer,
    text_tokens: Sequence[int],
    frames: int,
    heads: AlignmentHeads,
) -> TokenTiming:
    """Timings of `text_tokens` decoded from one window's `encoding` (1, encoder frames,
    width), whose audio spans `frames` mel frames (100 per second)."""
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    tokens = torch.tensor([[*prompt, *text_tokens, tokenizer.eot]], device=encoding.device)
    cache = model.decoder.start(encoding)
    cross_logits: list[torch.Tensor] = []
    hidden = model.decoder(tokens, cache, cross_logits)
    # Position k predicts token k + 1: the rows from the last prompt token on predict the text.
    predicting = model.decoder.logits(hidden[0, len(prompt) - 1 : -1]).float()
    probabilities = predicting[:, : tokenizer.eot].softmax(dim=-1)
    text_probabilities = probabilities[torch.arange(len(text_tokens)), list(text_tokens)]

    audio_frames = max(1, frames // 2)  # encoder frames of the audio itself (not padding)
    weights = torch.stack([cross_logits[layer][0, head] for layer, head in heads])
    weights = weights[:, :, :audio_frames].softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = median_filter((weights - mean) / std.clamp_min(1e-8), MEDIAN_FILTER_WIDTH)
    matrix = weights.mean(dim=0)[len(prompt) - 1 : -1]  # text tokens, then end of text
    token_index, frame_index = dtw(-matrix.double().cpu().numpy())
    starts_at = np.diff(token_index, prepend=-1).astype(bool)  # first frame of each token
    return TokenTiming(
        starts=frame_index[starts_at] * TIME_PRECISION,
        probabilities=text_probabilities.double().cpu().numpy(),
    )


def word_timings(
    timing: TokenTiming, tokenizer: Tokenizer, text_tokens: Sequence[int]
) -> list[dict[str, Any]]:
    """The words of `text_tokens` with `start`/`end` (seconds from the window's start),
    `probability` and their `tokens`; punctuation joined to its word."""
    words, word_tokens = tokenizer.split_to_word_tokens([*text_tokens, tokenizer.eot])
    if len(word_tokens) <= 1:
        return []
    bounds = np.concatenate([[0], np.cumsum([len(t) for t in word_tokens[:-1]])])
    timed = [
        {
            "word": word,
            "tokens": tokens,
            "start": float(timing.starts[first]),
            "end": float(timing.starts[last]),
            "probability": float(np.mean(timing.probabilities[first:last])),
        }
        for word, tokens, first, last in zip(  # the last word is the end of text alone
            words[:-1], word_tokens[:-1], bounds[:-1], bounds[1:], strict=True
        )
    ]
    merge_punctuations(timed, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
    return [w for w in timed if w["word"]]


def attach_words(
    segments: Sequence[dict[str, Any]],
    words: list[dict[str, Any]],
    time_offset: float,
    timestamp_begin: int,
) -> None:
    """Give each segment (`start`, `end` absolute, `tokens` with its timestamp tokens) its
    words, in order by their text tokens; times made absolute, clipped into the segment, and
    a first or last word stretched over a pause cut short."""
    durations = [w["end"] - w["start"] for w in words if w["end"] > w["start"]]
    longest = 2 * min(MAX_WORD_SECONDS, float(np.median(durations)) if durations else 0.0)
    remaining = iter(words)
    pending: dict[str, Any] | None = next(remaining, None)
    for segment in segments:
        text_count = sum(1 for t in segment["tokens"] if t < timestamp_begin)
        owned: list[dict[str, Any]] = []
        while pending is not None and text_count > 0:
            text_count -= len(pending["tokens"])
            owned.append(pending)
            pending = next(remaining, None)
        placed = []
        for word in owned:
            start = min(max(time_offset + word["start"], segment["start"]), segment["end"])
            end = min(max(time_offset + word["end"], start), segment["end"])
            placed.append({**word, "start": start, "end": end})
        if placed and longest > 0:
            first, last = placed[0], placed[-1]
            first["start"] = max(first["start"], first["end"] - longest)
            last["end"] = min(last["end"], last["start"] + longest)
        segment["words"] = [
            {
                "word": w["word"],
                "start": round(w["start"], 2),
                "end": round(w["end"], 2),
                "probability": w["probability"],
            }
            for w in placed
        ]
