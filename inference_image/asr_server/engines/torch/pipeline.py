"""Requests -> 30 s windows -> batched encode + decode rounds -> transcriptions.

The same plan as the faster-whisper engine's batched decoder, so both engines cut, retry and
stitch alike: audio up to 30 s is decoded in seek mode (a follow-up window from the last
timestamp when the decoder stops mid-clip, conditioned on the text so far), longer audio (or
`vad_filter`) in independent VAD chunks (engines/windows.py). Every round decodes the pending
windows of all requests together: windows that share a search (beam size, temperature) and a
prompt length go through one encoder call and one decoding call of up to `max_batch_size`
rows. A window that fails Whisper's quality checks is retried in the next round, first with
the full 30 s context when it was trimmed, then with the next decode pass (the deterministic
beam-5 retry, engines/fallback.py); when every pass fails the best attempt is kept. One bad
request gets its EngineError and never fails the others. Word timings, when asked for, are
aligned on the chosen attempt's encoding as each window's segments are kept (alignment.py).

Hotwords: each request's become one context graph (context_graph.py) that biases every beam of
its windows; in `prompt` mode they are written into the prompt instead, as faster-whisper
does, and in `both` modes both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio

from asr_server.engines.base import EngineError
from asr_server.engines.torch.alignment import attach_words, token_timing, word_timings
from asr_server.engines.torch.checkpoint import AlignmentHeads
from asr_server.engines.torch.context_graph import (
    DEFAULT_SCORE,
    ContextGraph,
    hotword_graph,
    parse_hotwords,
)
from asr_server.engines.torch.decoding import Decoded, RowPrompt, Search, decode, detect_language
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.segments import split_by_timestamps
from asr_server.engines.torch.vocabulary import Vocabulary
from asr_server.engines.whisper import fallback
from asr_server.engines.whisper.batched import rounds
from asr_server.engines.whisper.batched.segments import keep_timed
from asr_server.engines.whisper.batched.stitch import to_transcription
from asr_server.engines.whisper.batched.windows import (
    WINDOW_FRAMES,
    ItemPlan,
    Window,
    encoder_frames,
    follow_up,
    plan_item,
)
from asr_server.engines.whisper.options import ENCODER_CONTEXTS, whisper_options
from asr_server.types import Audio, TranscribeOptions, Transcription

log = logging.getLogger(__name__)

GroupKey = rounds.GroupKey
"""(how the rows are decoded, prompt length): what the rows of one call share."""


@dataclass(frozen=True)
class Biasing:
    """How requests' hotwords steer the decoder."""

    score: float = DEFAULT_SCORE
    """Default boost per hotword token (log-probability units) when a hotword names none."""
    mode: str = "decoder"
    """`decoder`: the context graph boosts beams; `prompt`: the hotwords are prompt text, as
    faster-whisper's `hotwords` (no graph); `both`."""


@dataclass
class _Request:
    """What the pipeline keeps per request beside its windows' ItemPlan."""

    graph: ContextGraph | None
    prompt_hotwords: str | None


@contextlib.contextmanager
def intra_op_threads(threads: int) -> Iterator[None]:
    """PyTorch's intra-op threads set to `threads` (0: left as they are) for the block."""
    before = torch.get_num_threads()
    if threads <= 0 or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Pipeline:
    def __init__(
        self,
        model: Whisper,
        vocabulary: Vocabulary,
        device: torch.device,
        dtype: torch.dtype,
        max_batch_size: int,
        encoder_context: str = "full",
        biasing: Biasing = Biasing(),
        seed: int | None = None,
        decode_threads: int = 0,
        *,
        alignment_heads: AlignmentHeads,
    ) -> None:
        if encoder_context not in ENCODER_CONTEXTS:
            raise ValueError(f"encoder_context must be one of {ENCODER_CONTEXTS}")
        self.model = model
        self.vocabulary = vocabulary
        self.device = device
        self.dtype = dtype
        self.max_batch_size = max(1, max_batch_size)
        self.encoder_context = encoder_context
        self.biasing = biasing
        self.extractor = FeatureExtractor(feature_size=model.dims.n_mels)
        self.generator = torch.Generator(device=device)
        if seed is not None:
            self.generator.manual_seed(seed)
        self.decode_threads = decode_threads
        """PyTorch intra-op threads for the decoding steps on the CPU (0: as the encoder)."""
        self.alignment_heads = alignment_heads
        """The cross-attention heads word timings read (the checkpoint's, checkpoint.py)."""

    def transcribe(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """Decode every item; the result list matches `items` slot for slot. Safe to call from
        several threads at once (each call keeps its own state)."""
        plans: list[ItemPlan | EngineError] = []
        pending: list[Window] = []
        requests: dict[int, _Request] = {}
        for index, (audio, options) in enumerate(items):
            try:
                plan, windows, requests[index] = self._plan(index, audio, options)
            except EngineError as exc:
                plans.append(exc)
                continue
            plans.append(plan)
            pending.extend(windows)

        # One call of at most max_batch_size windows per group key; a call that raises is made
        # again one window at a time, so one bad window fails alone (rounds.py).
        runner = rounds.RoundRunner(
            self.model,
            lambda windows, _: self._decode_windows(windows, requests),
            lambda window: self._group_key(window, requests),
            self._encoder_frames,
            self.max_batch_size,
        )
        with torch.inference_mode():
            while pending:  # rounds: follow-up windows and retries are decoded in the next one
                pending = runner.run(pending)
        return [
            plan if isinstance(plan, EngineError) else plan.error or to_transcription(plan)
            for plan in plans
        ]

    def _plan(
        self, index: int, audio: Audio, options: TranscribeOptions
    ) -> tuple[ItemPlan, list[Window], _Request]:
        own = whisper_options(options)  # this engine takes the Whisper engine's options
        language = self.vocabulary.item_language(options)
        hotwords = parse_hotwords(options.hotwords)
        graph = None
        if self.biasing.mode != "prompt":
            encode = self.vocabulary.tokenizer("transcribe", "en").encode
            graph = hotword_graph(hotwords, encode, self.biasing.score)
        try:
            plan, windows = plan_item(index, audio, options, self.extractor)
        except EngineError:
            raise
        except Exception as exc:  # a feature/VAD failure is this item's problem only
            log.warning("item %d could not be prepared: %s", index, exc)
            raise EngineError(f"audio could not be processed: {exc}") from None
        plan.whisper = dataclasses.replace(
            own, encoder_context=own.encoder_context or self.encoder_context
        )
        plan.language = language
        plan.previous_tokens = self.vocabulary.initial_prompt(options)
        prompt_hotwords = None
        if self.biasing.mode != "decoder":
            prompt_hotwords = ", ".join(h.phrase for h in hotwords)
        return plan, windows, _Request(graph, prompt_hotwords or None)

    def _decode_windows(self, windows: list[Window], requests: dict[int, _Request]) -> list[Window]:
        decode_pass, _ = self._group_key(windows[0], requests)
        frames = max(self._encoder_frames(w) for w in windows)
        features = np.ascontiguousarray(np.stack([w.features[:, :frames] for w in windows]))
        mel = torch.from_numpy(features).to(self.device, self.dtype)
        encoding = self.model.encoder(mel)
        self._detect_languages(windows, encoding)
        prompts = [self._row_prompt(w, requests[w.item.index]) for w in windows]
        search = Search(
            beam_size=decode_pass.beam_size,
            hypotheses=decode_pass.hypotheses,
            temperature=decode_pass.temperature,
        )
        with intra_op_threads(self.decode_threads):
            results = decode(
                self.model,
                encoding,
                prompts,
                self.vocabulary.rules,
                search,
                self.vocabulary.no_speech,
                self.generator,
            )
        follow_ups = []
        for row, (window, result) in enumerate(zip(windows, results, strict=True)):
            try:  # after a good batch call, a failure here is this item's alone
                after = self._absorb(window, result, decode_pass, encoding[row : row + 1])
            except Exception as exc:
                log.warning("item %d failed after decoding: %s", window.item.index, exc)
                window.item.error = EngineError(f"decoding failed: {exc}")
                continue
            if after is not None:
                follow_ups.append(after)
        return follow_ups

    def _detect_languages(self, windows: list[Window], encoding: torch.Tensor) -> None:
        """The language of each item without one, from its first window's encoding."""
        unknown = [i for i, w in enumerate(windows) if w.item.language is None]
        if not unknown:
            return
        rows = encoding[unknown]
        detections = detect_language(
            self.model, rows, self.vocabulary.sot, self.vocabulary.language_tokens
        )
        for i, ranked in zip(unknown, detections, strict=True):
            window = windows[i]
            token, probability = ranked[0]
            window.language = self.vocabulary.language_code(token)
            item = window.item
            if window.order == item.first_order:
                item.language, item.language_probability = window.language, probability

    def _row_prompt(
        self, window: Window, request: _Request, language: str | None = None
    ) -> RowPrompt:
        item = window.item
        language = language or window.language or item.language or "en"
        # Seek mode conditions on the text decoded so far; chunks are independent windows.
        previous = (
            item.previous_tokens
            if item.mode == "seek"
            else self.vocabulary.initial_prompt(item.options)
        )
        tokens, sot_index = self.vocabulary.prompt(
            item.options.task, language, previous, request.prompt_hotwords
        )
        return RowPrompt(tokens, sot_index, request.graph)

    def _absorb(
        self,
        window: Window,
        result: list[Decoded],
        decode_pass: fallback.DecodePass,
        encoding: torch.Tensor,
    ) -> Window | None:
        """Judge one decode, as the faster-whisper engine does (engines/fallback.py): take the
        first candidate that passes the checks, or decode the window again (the full context,
        then the next pass), or choose among every failed candidate. Returns the window to
        decode in the next round, if any."""
        item = window.item
        options = item.options
        tokenizer = self.vocabulary.tokenizer(
            options.task, window.language or item.language or "en"
        )
        timestamp_begin = tokenizer.timestamp_begin
        candidates = [
            fallback.Attempt(
                tokens=decoded.tokens,
                avg_logprob=decoded.avg_logprob,
                no_speech_prob=decoded.no_speech_prob,
                compression_ratio=get_compression_ratio(tokenizer.decode(decoded.tokens).strip()),
                temperature=decode_pass.temperature,
                closed=bool(decoded.tokens) and decoded.tokens[-1] >= timestamp_begin,
                encoding=encoding if options.word_timestamps else None,  # for word timing
            )
            for decoded in result
        ]
        chosen = fallback.passing(candidates)
        # fallback=False asks for one pass (a stream's partial): no retry of any kind.
        trimmed = self._encoder_frames(window) < WINDOW_FRAMES
        if chosen is None and item.whisper.fallback and trimmed:
            return dataclasses.replace(window, full_context=True)
        if chosen is None:
            window.attempts.extend(candidates)
            if window.pass_index + 1 < len(rounds.item_passes(item)):
                return dataclasses.replace(window, pass_index=window.pass_index + 1)
            chosen = fallback.best(window.attempts)
        next_seek = window.seek + window.segment_size
        if not chosen.silent:
            next_seek = self._keep_segments(window, chosen, tokenizer)
        if chosen.resets_prompt:
            item.previous_tokens.clear()
        return follow_up(window, next_seek)

    def _keep_segments(self, window: Window, tried: fallback.Attempt, tokenizer: Tokenizer) -> int:
        segments, next_seek = split_by_timestamps(
            tried.tokens,
            tokenizer.timestamp_begin,
            window.time_offset,
            window.segment_size,
            window.segment_duration,
            window.seek,
        )
        timed = [
            {"seek": window.seek, "start": s.start, "end": s.end, "tokens": s.tokens}
            for s in segments
        ]
        if window.item.options.word_timestamps and tried.encoding is not None:
            self._time_words(window, tried, tokenizer, timed)
        keep_timed(window, tried, tokenizer, timed)
        return next_seek

    def _time_words(
        self,
        window: Window,
        tried: fallback.Attempt,
        tokenizer: Tokenizer,
        segments: list[dict[str, Any]],
    ) -> None:
        """Each segment's words, timed from the window's cross-attention (alignment.py). The
        text and where the next window starts are the same with word timings as without."""
        text = [t for s in segments for t in s["tokens"] if t < tokenizer.eot]
        if not text:
            return
        with intra_op_threads(self.decode_threads):
            timing = token_timing(
                self.model, tried.encoding, tokenizer, text, window.segment_size,
                self.alignment_heads,
            )  # fmt: skip
        words = word_timings(timing, tokenizer, text)
        attach_words(segments, words, window.time_offset, tokenizer.timestamp_begin)

    def _encoder_frames(self, window: Window) -> int:
        trimmed = window.item.whisper.encoder_context == "trimmed" and not window.full_context
        return encoder_frames(window.segment_size, trimmed)

    def _group_key(self, window: Window, requests: dict[int, _Request]) -> GroupKey:
        request = requests[window.item.index]
        prompt_length = len(self._row_prompt(window, request, language="en").tokens)
        return (rounds.window_pass(window), prompt_length)
