"""The batched decoder's tokenizers and prompts: what each window is decoded with.

One faster-whisper `Tokenizer` per (task, language), built on the model's Hugging Face
tokenizer and cached; building it is also how an item's task and language code are checked
before any decoding. A window's prompt is what `WhisperModel.get_prompt` builds (previous text,
start-of-transcript, language, task, hotwords), as faster-whisper's sequential loop does: a
seek-mode window conditions on its item's text decoded so far, an independent VAD chunk on the
request's initial prompt only. The suppressed tokens are faster-whisper's default
(`suppress_tokens=[-1]`), so the batched and sequential paths decode alike.
"""

from __future__ import annotations

from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from asr_server.engines.base import EngineError
from asr_server.engines.whisper.batched.windows import Window
from asr_server.types import TranscribeOptions


class WhisperPrompts:
    """Tokenizers and window prompts for one `WhisperModel` (`name` is for error messages)."""

    def __init__(self, model: WhisperModel, name: str = "this model") -> None:
        self.model = model
        self.name = name
        self.multilingual = bool(model.model.is_multilingual)
        self.languages = frozenset(model.supported_languages)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self.suppress_tokens = list(get_suppressed_tokens(self.tokenizer("transcribe", "en"), [-1]))
        """Token ids no generate call may produce (faster-whisper's default set)."""

    def tokenizer(self, task: str, language: str) -> Tokenizer:
        """The tokenizer for `task` and `language`; ValueError for an unknown task or code."""
        key = (task, language)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(
                self.model.hf_tokenizer, self.multilingual, task=task, language=language
            )
        return self._tokenizers[key]

    def item_language(self, options: TranscribeOptions) -> str | None:
        """The language an item decodes with (None: detected on its first window). EngineError
        for a language this model does not support, or an unknown task or language code."""
        if options.language and options.language not in self.languages:
            # faster-whisper would silently decode English with an English-only model.
            known = sorted(self.languages)
            supported = ", ".join(known) if len(known) <= 5 else f"{len(known)} codes"
            raise EngineError(
                f"language {options.language!r} is not supported by {self.name} "
                f"(supported: {supported})"
            )
        language = options.language if self.multilingual else "en"
        try:  # an unknown task or language code is this item's error, found before decoding
            self.tokenizer(options.task, language or "en")
        except ValueError as exc:
            raise EngineError(str(exc)) from exc
        return language

    def initial(self, options: TranscribeOptions) -> list[int]:
        """The request's initial prompt as tokens: faster-whisper starts the decoded-text
        history with " " + the prompt."""
        if not options.prompt:
            return []
        tokens: list[int] = self.tokenizer(options.task, "en").encode(" " + options.prompt.strip())
        return tokens

    def prompt(self, window: Window, language: str | None = None) -> list[int]:
        """The prompt `window` is decoded with; `language` overrides the window's own."""
        item = window.item
        language = language or window.language or item.language or "en"
        tokenizer = self.tokenizer(item.options.task, language)
        # Seek mode conditions on the text decoded so far; chunks are independent windows.
        previous = item.previous_tokens if item.mode == "seek" else self.initial(item.options)
        prompt: list[int] = self.model.get_prompt(
            tokenizer, previous, without_timestamps=False, hotwords=item.options.hotwords
        )
        return prompt

    def sot_position(self, window: Window) -> int:
        """Index of the start-of-transcript token in `window`'s prompt. CTranslate2 needs it at
        the same index in every row of a generate call; it does not depend on the language
        token, so any tokenizer computes it."""
        tokenizer = self.tokenizer(window.item.options.task, "en")
        return self.prompt(window, language="en").index(tokenizer.sot)
