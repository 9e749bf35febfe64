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
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from asr_server.config import ENCODER_CONTEXTS
from asr_server.engines import fallback, packing
from asr_server.engines.base import (
    Audio,
    EngineError,
    TranscribeOptions,
    Transcription,
)
from asr_server.engines.segments import keep_segments
from asr_server.engines.stitch import to_transcription
from asr_server.engines.windows import (
    WINDOW_FRAMES,
    Features,
    ItemPlan,
    Window,
    encoder_frames,
    plan_item,
    seek_window,
)

log = logging.getLogger(__name__)

# faster-whisper's sequential defaults, so both paths decode alike.
_PROMPT_RESET_ON_TEMPERATURE = 0.5
_MAX_INITIAL_TIMESTAMP_INDEX = 50  # 1.0 s / 0.02 s

GroupKey = tuple[int, float, int]
"""(beam_size, temperature, start-of-transcript position): what one generate call shares."""


class BatchedWhisperDecoder:
    """Batched encode + generate over `model.model` (a `ctranslate2.models.Whisper`)."""

    def __init__(
        self,
        model: WhisperModel,
        max_batch_size: int = 4,
        workers: int = 1,
        name: str = "this model",
        pack: bool = False,
        encoder_context: str = "full",
        replicas: Any = None,
    ) -> None:
        """`max_batch_size` windows per encode/generate call; `workers` calls at a time (give
        the WhisperModel as many `num_workers`: CTranslate2 runs one call per worker, or pass
        `replicas`); `replicas`, a `ctranslate2.models.Whisper` of the same model with `workers`
        single-thread replicas (`inter_threads=workers, intra_threads=1`): a round of more than
        `workers` windows is split evenly across them, a smaller one is one call on `model`
        (all of its threads on one call: the lower latency for a lone request); `pack`
        puts two short clips in one window (`packing.py`: faster, text not guaranteed
        identical to the unbatched path); `encoder_context` is the default for items that do
        not choose (`full`, or `trimmed`: windows.encoder_frames, text not guaranteed identical
        to the unbatched path)."""
        if encoder_context not in ENCODER_CONTEXTS:
            raise ValueError(f"encoder_context must be one of {ENCODER_CONTEXTS}")
        self.name = name
        self.encoder_context = encoder_context
        self.context_retries = 0
        """Trimmed windows decoded again with the full context after failing the checks."""
        self.pack = pack
        self.packed_pairs = 0
        self.pack_fallbacks = 0
        if max_batch_size < 1 or workers < 1:
            raise ValueError("max_batch_size and workers must be >= 1")
        self.model = model
        self.max_batch_size = max_batch_size
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, "batched-decode") if workers > 1 else None
        self.replicas = replicas
        self.replica_rounds = 0
        """Rounds split across `replicas` (the others ran on `model`)."""
        self._multilingual = bool(model.model.is_multilingual)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self._languages = frozenset(model.supported_languages)
        self._suppress = list(get_suppressed_tokens(self._tokenizer("transcribe", "en"), [-1]))

    def decode(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """Decode every item; the result list matches `items` slot for slot."""
        if not self.pack:
            return [self._result(plan) for plan in self._decode_plans(items)]
        pairs, packed, features = packing.pair_up(
            list(items), self._multilingual, self.model.feature_extractor
        )
        paired = {i for pair in pairs for i in (pair.first, pair.second)}
        alone = [i for i in range(len(items)) if i not in paired]
        plans = self._decode_plans(packed + [items[i] for i in alone], features)
        results: dict[int, Transcription | EngineError] = {
            index: self._result(plan)
            for index, plan in zip(alone, plans[len(packed) :], strict=True)
        }
        for pair, plan in zip(pairs, plans[: len(packed)], strict=True):
            parts = None if isinstance(plan, EngineError) else packing.unpack(pair, plan, items)
            if parts is None:
                self.pack_fallbacks += 1
                continue
            self.packed_pairs += 1
            results[pair.first], results[pair.second] = parts
        missing = [i for i in range(len(items)) if i not in results]
        for index, plan in zip(
            missing, self._decode_plans([items[i] for i in missing]), strict=True
        ):
            results[index] = self._result(plan)
        return [results[i] for i in range(len(items))]

    @staticmethod
    def _result(plan: ItemPlan | EngineError) -> Transcription | EngineError:
        return plan if isinstance(plan, EngineError) else plan.error or to_transcription(plan)

    def _decode_plans(
        self,
        items: Sequence[tuple[Audio, TranscribeOptions]],
        features: Sequence[Features] = (),
    ) -> list[ItemPlan | EngineError]:
        """Decode; `features[i]`, when given, is item i's precomputed log-mel (packed pairs)."""
        plans: list[ItemPlan | EngineError] = []
        pending: list[Window] = []
        for index, (audio, options) in enumerate(items):
            given = features[index] if index < len(features) else None
            try:
                plan, windows = plan_item(
                    index, audio, options, self.model.feature_extractor, given
                )
            except EngineError as exc:
                plans.append(exc)
                continue
            except Exception as exc:  # a feature/VAD failure is this item's problem only
                log.warning("item %d could not be prepared: %s", index, exc)
                plans.append(EngineError(f"audio could not be processed: {exc}"))
                continue
            if options.encoder_context not in (None, *ENCODER_CONTEXTS):
                plans.append(EngineError(f"unknown encoder context {options.encoder_context!r}"))
                continue
            if options.language and options.language not in self._languages:
                # As the unbatched engine: an English-only model refuses other languages.
                plans.append(self._unsupported(options.language))
                continue
            if not self._multilingual:
                plan.language = "en"
            elif options.language is not None:
                plan.language = options.language
            try:  # an unknown task or language code is this item's error, found before decoding
                self._tokenizer(options.task, plan.language or "en")
            except ValueError as exc:
                plans.append(EngineError(str(exc)))
                continue
            # faster-whisper starts the decoded-text history with " " + the initial prompt.
            plan.previous_tokens = self._initial_prompt(options)
            plan.packed = given is not None
            plans.append(plan)
            pending.extend(windows)
        while pending:  # rounds: seek-mode follow-up windows are decoded in the next round
            pending = self._decode_round(pending)
        return plans

    def _unsupported(self, language: str) -> EngineError:
        known = sorted(self._languages)
        supported = ", ".join(known) if len(known) <= 5 else f"{len(known)} codes"
        return EngineError(
            f"language {language!r} is not supported by {self.name} (supported: {supported})"
        )

    def _decode_round(self, windows: list[Window]) -> list[Window]:
        # With replicas, only a round with more windows than replicas is split across them.
        parallel = self._pool is not None and (self.replicas is None or len(windows) > self.workers)
        whisper = self.replicas if parallel and self.replicas is not None else self.model.model
        self.replica_rounds += whisper is self.replicas
        chunks: list[list[Window]] = []
        ordered = sorted(windows, key=self._group_key)  # stable: item and window order kept
        for _, group in groupby(ordered, key=self._group_key):
            batch = sorted(group, key=self._encoder_frames)  # similar lengths share a call
            size = self._chunk_size(len(batch), parallel)
            chunks.extend(batch[start : start + size] for start in range(0, len(batch), size))
        if self._pool is None or not parallel or len(chunks) == 1:
            results = [self._decode_chunk(chunk, whisper) for chunk in chunks]
        else:
            results = list(self._pool.map(lambda c: self._decode_chunk(c, whisper), chunks))
        return [window for follow_ups in results for window in follow_ups]

    def _chunk_size(self, windows: int, parallel: bool = True) -> int:
        """Spread a group evenly over the workers (when `parallel`), at most max_batch_size
        per call."""
        per_worker = -(-windows // self.workers) if parallel else windows
        return max(1, min(self.max_batch_size, per_worker))

    def _decode_chunk(self, windows: list[Window], whisper: Any) -> list[Window]:
        """Decode on `whisper` (the CTranslate2 model or its replicas)."""
        windows = [w for w in windows if w.item.error is None]
        if not windows:
            return []
        try:
            return self._decode_windows(windows, whisper)
        except Exception as exc:
            if len(windows) == 1:
                log.warning("item %d failed to decode: %s", windows[0].item.index, exc)
                windows[0].item.error = EngineError(f"decoding failed: {exc}")
                return []
            # Decode the rest again without the bad item: one at a time isolates it.
            log.warning("batch of %d failed (%s); decoding its windows apart", len(windows), exc)
            follow_ups: list[Window] = []
            for window in windows:
                follow_ups.extend(self._decode_chunk([window], whisper))
            return follow_ups

    def _decode_windows(self, windows: list[Window], whisper: Any) -> list[Window]:
        """One encode + one generate on `whisper` for `windows` (all with one group key)."""
        beam_size, temperature, _ = self._group_key(windows[0])
        frames = max(self._encoder_frames(w) for w in windows)
        features = np.ascontiguousarray(np.stack([w.features[:, :frames] for w in windows]))
        encoder_output = whisper.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
        self._detect_languages(windows, encoder_output, whisper)
        prompts = [self._prompt(w) for w in windows]
        sampling: dict[str, Any] = (
            {"sampling_temperature": temperature, "sampling_topk": 0} if temperature > 0 else {}
        )
        results = whisper.generate(
            encoder_output,
            prompts,
            beam_size=beam_size if temperature == 0 else 1,
            patience=1,
            length_penalty=1,
            repetition_penalty=1,
            no_repeat_ngram_size=0,
            max_length=self.model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
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
        """Judge one generate result: retry at the next temperature, or keep its segments.
        Returns the window to decode in the next round, if any."""
        item = window.item
        tokenizer = self._tokenizer(item.options.task, window.language or item.language or "en")
        schedule = fallback.temperatures(item.options.temperature, item.options.fallback)
        tried = fallback.attempt(
            result,
            tokenizer.decode(result.sequences_ids[0]),
            schedule[window.temperature_index],
            encoding,
        )
        if tried.failed and item.packed:
            item.error = EngineError("packed window failed the quality checks")
            return None
        # fallback=False asks for one pass (a stream's partial): no retry of any kind.
        if tried.failed and item.options.fallback and self._encoder_frames(window) < WINDOW_FRAMES:
            self.context_retries += 1  # first try what Whisper was trained on, then temperature
            return dataclasses.replace(window, full_context=True)
        if tried.failed:
            window.attempts.append(tried)
            if window.temperature_index + 1 < len(schedule):
                return dataclasses.replace(window, temperature_index=window.temperature_index + 1)
            tried = fallback.best(window.attempts)
        next_seek = window.seek + window.segment_size
        if not tried.silent:
            next_seek = keep_segments(self.model, window, tried, tokenizer)
        if tried.temperature > _PROMPT_RESET_ON_TEMPERATURE:
            item.previous_tokens.clear()
        if item.mode == "seek" and next_seek < item.content_frames:
            return seek_window(item, next_seek, window.order + 1)
        return None

    def _prompt(self, window: Window, language: str | None = None) -> list[int]:
        item = window.item
        language = language or window.language or item.language or "en"
        tokenizer = self._tokenizer(item.options.task, language)
        # Seek mode conditions on the text decoded so far; chunks are independent windows.
        previous = (
            item.previous_tokens if item.mode == "seek" else self._initial_prompt(item.options)
        )
        prompt: list[int] = self.model.get_prompt(
            tokenizer, previous, without_timestamps=False, hotwords=item.options.hotwords
        )
        return prompt

    def _initial_prompt(self, options: TranscribeOptions) -> list[int]:
        if not options.prompt:
            return []
        tokens: list[int] = self._tokenizer(options.task, "en").encode(" " + options.prompt.strip())
        return tokens

    def _encoder_frames(self, window: Window) -> int:
        context = window.item.options.encoder_context or self.encoder_context
        trimmed = context == "trimmed" and not window.full_context
        return encoder_frames(window.segment_size, trimmed)

    def _group_key(self, window: Window) -> GroupKey:
        options = window.item.options
        # CTranslate2 needs the start-of-transcript token at the same index in every row; that
        # index does not depend on the language token, so compute it with any tokenizer.
        tokenizer = self._tokenizer(options.task, "en")
        sot_position = self._prompt(window, language="en").index(tokenizer.sot)
        schedule = fallback.temperatures(options.temperature, options.fallback)
        temperature = schedule[window.temperature_index]
        return (options.beam_size, temperature, sot_position)

    def _tokenizer(self, task: str, language: str) -> Tokenizer:
        key = (task, language)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(
                self.model.hf_tokenizer, self._multilingual, task=task, language=language
            )
        return self._tokenizers[key]
