"""A Whisper checkpoint's tokens: tokenizers, special ids, language tokens, prompts.

Built on the Hugging Face `tokenizer.json` (the `tokenizers` library) wrapped in
faster-whisper's `Tokenizer`, one per (task, language), as the faster-whisper engine does, so
both engines write and read the same token ids. Prompts are Whisper's: `<|startofprev|>`, the
hotword text when prompt-style hotwords are on, the text decoded so far, then the
start-of-transcript sequence; prompt text is capped at half the context (as faster-whisper
does for each part, here for both together so the prompt always fits).
"""

from __future__ import annotations

from pathlib import Path

import tokenizers
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from asr_server.engines.base import EngineError
from asr_server.engines.torch.checkpoint import ModelDimensions
from asr_server.engines.torch.rules import SpecialTokens, TokenRules
from asr_server.languages import LANGUAGE_NAMES
from asr_server.types import TranscribeOptions

MAX_INITIAL_TIMESTAMP_INDEX = 50
"""faster-whisper's default: the first timestamp is at most 1 s into the window."""


class Vocabulary:
    def __init__(
        self, tokenizer_file: Path, dims: ModelDimensions, name: str = "this model"
    ) -> None:
        self.name = name
        self.hf = tokenizers.Tokenizer.from_file(str(tokenizer_file))
        self.multilingual = dims.multilingual
        self.context = dims.n_text_ctx
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        english = self.tokenizer("transcribe", "en")
        self.sot = english.sot
        self.no_speech = english.no_speech
        self.language_tokens: tuple[int, ...] = ()
        self._codes: dict[int, str] = {}
        if self.multilingual:
            for code in LANGUAGE_NAMES:
                token = self.hf.token_to_id(f"<|{code}|>")
                if token is not None and token < dims.n_vocab:
                    self._codes[token] = code
            self.language_tokens = tuple(self._codes)
        self.languages = tuple(self._codes.values()) if self.multilingual else ("en",)
        special = SpecialTokens(
            eot=english.eot,
            no_timestamps=english.no_timestamps,
            timestamp_begin=english.timestamp_begin,
            vocab_size=dims.n_vocab,
        )
        self.rules = TokenRules(
            special,
            suppress=get_suppressed_tokens(english, [-1]),
            suppress_at_start=[*english.encode(" "), english.eot],
            max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX,
        )

    def tokenizer(self, task: str, language: str) -> Tokenizer:
        """ValueError for an unknown task or language code."""
        key = (task, language)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(
                self.hf, self.multilingual, task=task, language=language
            )
        return self._tokenizers[key]

    def language_code(self, token: int) -> str:
        return self._codes[token]

    def item_language(self, options: TranscribeOptions) -> str | None:
        """The language a request decodes with (None: detected). EngineError for a language
        this model does not support, or an unknown task."""
        if options.language and options.language not in self.languages:
            known = self.languages
            supported = ", ".join(known) if len(known) <= 5 else f"{len(known)} codes"
            raise EngineError(
                f"language {options.language!r} is not supported by {self.name} "
                f"(supported: {supported})"
            )
        language = options.language if self.multilingual else "en"
        try:
            self.tokenizer(options.task, language or "en")
        except ValueError as exc:
            raise EngineError(str(exc)) from exc
        return language

    def initial_prompt(self, options: TranscribeOptions) -> list[int]:
        """The request's prompt text as tokens (faster-whisper prefixes a space)."""
        if not options.prompt:
            return []
        tokens: list[int] = self.tokenizer(options.task, "en").encode(" " + options.prompt.strip())
        return tokens

    def prompt(
        self, task: str, language: str, previous: list[int], hotwords: str | None
    ) -> tuple[list[int], int]:
        """(prompt tokens, index of the start of transcript) for one window."""
        tokenizer = self.tokenizer(task, language)
        budget = self.context // 2 - 1
        prompt: list[int] = []
        if previous or hotwords:
            prompt.append(tokenizer.sot_prev)
            if hotwords:
                hotword_tokens = tokenizer.encode(" " + hotwords.strip())[:budget]
                prompt.extend(hotword_tokens)
                budget -= len(hotword_tokens)
            if previous and budget > 0:
                prompt.extend(previous[-budget:])
        sot_index = len(prompt)
        prompt.extend(tokenizer.sot_sequence)
        return prompt, sot_index
