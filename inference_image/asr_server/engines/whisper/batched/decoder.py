"""Cross-request batched decoding over the CTranslate2 Whisper inside faster-whisper.

`BatchedWhisperDecoder.decode(items)` takes several requests, splits each into <= 30 s windows
(`windows.py`), and decodes the windows of all requests together: ONE `encode` and ONE
`generate` per group of up to `max_batch_size` windows. Each row of a `generate` call carries
its own prompt (language, task, initial prompt, hotwords), so requests that differ only in
those share a batch; what CTranslate2 applies to the whole call (beam size, temperature) and the
position of the start-of-transcript token (which it requires to be equal) form the group key.
Windows whose decoder stopped mid-clip continue in a next round, exactly as faster-whisper's
sequential loop does, so greedy text equals `WhisperModel.transcribe(beam_size=1,
temperature=0)`. One failing item yields its EngineError and never fails the others.
The prompts and tokenizers are `prompts.py`'s; how a round is cut into calls, and whether they
run on the model or its CPU replicas, is `rounds.py`'s; the fallback after a failed decode is
`engines/whisper/fallback.py`'s.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel

from asr_server.engines.base import EngineError, Progress
from asr_server.engines.whisper import fallback
from asr_server.engines.whisper.batched import rounds
from asr_server.engines.whisper.batched.prompts import WhisperPrompts
from asr_server.engines.whisper.batched.segments import keep_segments
from asr_server.engines.whisper.batched.stitch import to_transcription
from asr_server.engines.whisper.batched.windows import (
    TIME_PER_FRAME,
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

# faster-whisper's sequential default, so both paths decode alike.
_MAX_INITIAL_TIMESTAMP_INDEX = 50  # 1.0 s / 0.02 s


class BatchedWhisperDecoder:
    """Batched encode + generate over `model.model` (a `ctranslate2.models.Whisper`)."""

    def __init__(
        self,
        model: WhisperModel,
        max_batch_size: int = 4,
        workers: int = 1,
        name: str = "this model",
        encoder_context: str = "full",
        replicas: Any = None,
    ) -> None:
        """`max_batch_size` windows per encode/generate call; `workers` calls at a time (give
        the WhisperModel as many `num_workers`: CTranslate2 runs one call per worker, or pass
        `replicas`, a `ctranslate2.models.Whisper` of the same model with `workers`
        single-thread replicas, `inter_threads=workers, intra_threads=1`: rounds.py says which
        rounds use them); `encoder_context` is the default for items that do not choose
        (`full`, or `trimmed`: windows.encoder_frames, text not guaranteed identical to the
        unbatched path)."""
        if encoder_context not in ENCODER_CONTEXTS:
            raise ValueError(f"encoder_context must be one of {ENCODER_CONTEXTS}")
        self.name = name
        self.encoder_context = encoder_context
        self.context_retries = 0
        """Trimmed windows decoded again with the full context after failing the checks."""
        if max_batch_size < 1 or workers < 1:
            raise ValueError("max_batch_size and workers must be >= 1")
        self.model = model
        self.max_batch_size = max_batch_size
        self.workers = workers
        self.replicas = replicas
        self.prompts = WhisperPrompts(model, name)
        self.rounds = rounds.RoundRunner(
            model.model,
            self._decode_windows,
            self._group_key,
            self._encoder_frames,
            max_batch_size,
            workers,
            replicas,
        )

    @property
    def replica_rounds(self) -> int:
        """Rounds split across `replicas` (the others ran on `model`)."""
        return self.rounds.replica_rounds

    def decode(
        self,
        items: Sequence[tuple[Audio, TranscribeOptions]],
        progress: Sequence[Progress | None] = (),
    ) -> list[Transcription | EngineError]:
        """Decode every item; the result list matches `items` slot for slot. `progress[i]`,
        when given, is called as item i's windows are decoded."""
        plans: list[ItemPlan | EngineError] = []
        pending: list[Window] = []
        for index, (audio, options) in enumerate(items):
            try:
                plan, windows = plan_item(index, audio, options, self.model.feature_extractor)
            except EngineError as exc:
                plans.append(exc)
                continue
            except Exception as exc:  # a feature/VAD failure is this item's problem only
                log.warning("item %d could not be prepared: %s", index, exc)
                plans.append(EngineError(f"audio could not be processed: {exc}"))
                continue
            try:
                own = whisper_options(options)
                plan.whisper = dataclasses.replace(
                    own, encoder_context=own.encoder_context or self.encoder_context
                )
                plan.language = self.prompts.item_language(options)
            except EngineError as exc:
                plans.append(exc)
                continue
            plan.previous_tokens = self.prompts.initial(options)
            plan.progress = progress[index] if index < len(progress) else None
            plans.append(plan)
            pending.extend(windows)
        while pending:  # rounds: seek-mode follow-up windows are decoded in the next round
            pending = self.rounds.run(pending)
        results: list[Transcription | EngineError] = []
        for planned in plans:
            if isinstance(planned, EngineError):
                results.append(planned)
                continue
            results.append(planned.error or to_transcription(planned))
            self._report(planned, planned.duration)
        return results

    def _decode_windows(self, windows: list[Window], whisper: Any) -> list[Window]:
        """One encode + one generate on `whisper` for `windows` (all with one group key)."""
        decode = rounds.window_pass(windows[0])
        frames = max(self._encoder_frames(w) for w in windows)
        features = np.ascontiguousarray(np.stack([w.features[:, :frames] for w in windows]))
        encoder_output = whisper.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
        self._detect_languages(windows, encoder_output, whisper)
        prompts = [self.prompts.prompt(w) for w in windows]
        sampling: dict[str, Any] = (
            {"sampling_temperature": decode.temperature, "sampling_topk": 0}
            if decode.temperature > 0
            else {}
        )
        results = whisper.generate(
            encoder_output,
            prompts,
            beam_size=decode.beam_size,
            num_hypotheses=decode.hypotheses,
            patience=1,
            length_penalty=1,
            repetition_penalty=1,
            no_repeat_ngram_size=0,
            max_length=self.model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.prompts.suppress_tokens,
            max_initial_timestamp_index=_MAX_INITIAL_TIMESTAMP_INDEX,
            **sampling,
        )
        encoded_rows = (
            np.asarray(encoder_output.to_device(ctranslate2.Device.cpu))
            if any(w.item.options.word_timestamps for w in windows)
            else None
        )
        follow_ups = []
        for row, (window, result) in enumerate(zip(windows, results, strict=True)):
            row_encoding = None if encoded_rows is None else encoded_rows[row : row + 1]
            try:  # after a good batch call, a failure here is this item's alone
                follow_up = self._absorb(window, result, row_encoding)
            except Exception as exc:
                log.warning("item %d failed after decoding: %s", window.item.index, exc)
                window.item.error = EngineError(f"decoding failed: {exc}")
                continue
            if follow_up is not None:
                follow_ups.append(follow_up)
        return follow_ups

    def _detect_languages(self, windows: list[Window], encoder_output: Any, whisper: Any) -> None:
        """Detect the language of each item without one, on its first window's encoding."""
        if not any(w.item.language is None for w in windows):
            return
        detections = whisper.detect_language(encoder_output)
        for window, ranked in zip(windows, detections, strict=True):
            item = window.item
            if item.language is None:
                token, probability = ranked[0]
                window.language = token[2:-2]  # "<|zh|>" -> "zh"
                if window.order == item.first_order:
                    item.language, item.language_probability = window.language, float(probability)

    def _absorb(self, window: Window, result: Any, encoding: Any) -> Window | None:
        """Judge one generate result: take a candidate that passes the checks, or decode the
        window again (the full context, then the next pass), or choose among every failed
        candidate (fallback.best). Returns the window to decode in the next round, if any."""
        item = window.item
        language = window.language or item.language or "en"
        tokenizer = self.prompts.tokenizer(item.options.task, language)
        decode = rounds.window_pass(window)
        candidates = fallback.attempts(
            result,
            [tokenizer.decode(tokens) for tokens in result.sequences_ids],
            decode,
            tokenizer.timestamp_begin,
            encoding,
        )
        chosen = fallback.passing(candidates)
        # fallback=False asks for one pass (a stream's partial): no retry of any kind.
        trimmed = self._encoder_frames(window) < WINDOW_FRAMES
        if chosen is None and item.whisper.fallback and trimmed:
            self.context_retries += 1  # first try what Whisper was trained on, then the fallback
            return dataclasses.replace(window, full_context=True)
        if chosen is None:
            window.attempts.extend(candidates)
            if window.pass_index + 1 < len(rounds.item_passes(item)):
                return dataclasses.replace(window, pass_index=window.pass_index + 1)
            chosen = fallback.best(window.attempts)
        next_seek = window.seek + window.segment_size
        if not chosen.silent:
            next_seek = keep_segments(self.model, window, chosen, tokenizer)
        if chosen.resets_prompt:
            item.previous_tokens.clear()
        following = follow_up(window, next_seek)
        if following is None:
            item.windows_done += 1
        if item.mode == "seek":
            self._report(item, next_seek * TIME_PER_FRAME)
        elif following is None and item.windows_planned:
            self._report(item, item.duration * item.windows_done / item.windows_planned)
        return following

    @staticmethod
    def _report(item: ItemPlan, seconds: float) -> None:
        """How far `item` has got (its last report, the whole duration, comes with the result)."""
        if item.progress is not None and item.error is None:
            item.progress(min(seconds, item.duration), item.duration)

    def _encoder_frames(self, window: Window) -> int:
        trimmed = window.item.whisper.encoder_context == "trimmed" and not window.full_context
        return encoder_frames(window.segment_size, trimmed)

    def _group_key(self, window: Window) -> rounds.GroupKey:
        return rounds.group_key(window, self.prompts)
