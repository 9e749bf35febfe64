"""A decoded window's tokens -> timed segments kept on its item (faster-whisper's own
splitting and word alignment, so both paths time words alike)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from asr_server.engines.whisper import fallback
from asr_server.engines.whisper.batched.windows import FRAMES_PER_SECOND, Window

# faster-whisper's sequential defaults for attaching punctuation to words.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


def keep_segments(
    model: WhisperModel, window: Window, tried: fallback.Attempt, tokenizer: Tokenizer
) -> int:
    """Split the tokens into timed segments, keep them; return where the next window starts."""
    item = window.item
    segments, next_seek, single_ending = model._split_segments_by_timestamps(
        tokenizer=tokenizer,
        tokens=tried.tokens,
        time_offset=window.time_offset,
        segment_size=window.segment_size,
        segment_duration=window.segment_duration,
        seek=window.seek,
    )
    if item.options.word_timestamps and tried.encoding is not None:
        model.add_word_timestamps(
            [segments],
            tokenizer,
            ctranslate2.StorageView.from_array(np.ascontiguousarray(tried.encoding)),
            window.segment_size,
            PREPEND_PUNCTUATIONS,
            APPEND_PUNCTUATIONS,
            last_speech_timestamp=0.0,
        )
        ends = [w["end"] for s in segments for w in s.get("words", [])]
        if not single_ending and ends and ends[-1] > window.time_offset:
            next_seek = round(ends[-1] * FRAMES_PER_SECOND)
    keep_timed(window, tried, tokenizer, segments)
    return int(next_seek)


def keep_timed(
    window: Window,
    tried: fallback.Attempt,
    tokenizer: Tokenizer,
    segments: Iterable[dict[str, Any]],
) -> None:
    """Keep a window's timed segments (`start`, `end`, `tokens`, ...) that hold text on its
    item, with the attempt's figures; in seek mode their tokens become the next prompt. Both
    engines keep segments this way (the torch engine splits the tokens itself)."""
    item = window.item
    kept = []
    for segment in segments:
        text = tokenizer.decode(segment["tokens"])
        if segment["start"] == segment["end"] or not text.strip():
            continue
        if item.mode == "seek":
            item.previous_tokens.extend(segment["tokens"])
        kept.append(
            {
                **segment,
                "text": text,
                "avg_logprob": tried.avg_logprob,
                "no_speech_prob": tried.no_speech_prob,
                "temperature": tried.temperature,
                "compression_ratio": tried.compression_ratio,
            }
        )
    item.segments[window.order] = kept
