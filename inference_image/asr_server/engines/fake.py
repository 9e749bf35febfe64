"""A model-free engine for tests of everything above the engine boundary (HTTP, scheduler,
streaming). Its text is derived from the audio, so different inputs give different results.

It registers exactly as the Whisper engine does (engines/registry.py: a name and the module
whose `create` builds it; docs/architecture.md, "Adding an engine"), and has none of the
optional capabilities, so the server's generic behaviour is what tests of it see.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from asr_server.engines.base import EngineError, EngineInfo
from asr_server.types import SAMPLE_RATE, Audio, Segment, TranscribeOptions, Transcription

FAKE_CONFIDENCE = 0.9


class FakeSettings(Protocol):
    """The server settings the fake engine reads (ServerConfig fields of the same names)."""

    @property
    def model(self) -> str: ...

    @property
    def language(self) -> str | None: ...


def create(settings: FakeSettings) -> FakeEngine:
    """The fake engine for ASR_ENGINE=fake, named after the configured model. ASR_FAKE_DELAY_S
    (seconds, default 0) holds every decode that long, for drain tests of the real process."""
    delay = float(os.environ.get("ASR_FAKE_DELAY_S") or 0)
    return FakeEngine(name=settings.model, delay_s=delay, language=settings.language or "en")


class FakeEngine:
    """ASREngine without a model.

    `delay_s` sleeps in every `transcribe` call (holds a worker for admission, timeout and
    drain tests); `fail_with` makes every call raise EngineError with that message. Both are
    plain attributes and may be changed while the engine is in use. `calls` counts decodes.
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        delay_s: float = 0.0,
        fail_with: str | None = None,
        language: str = "en",
        tasks: tuple[str, ...] = ("transcribe", "translate"),
    ) -> None:
        self.delay_s = delay_s
        self.fail_with = fail_with
        self.language = language
        self.calls = 0
        self._lock = threading.Lock()
        self._loaded = False
        self._info = EngineInfo(
            name=name,
            engine="fake",
            device="cpu",
            compute_type="none",
            languages=(language,),
            tasks=tasks,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    @property
    def ready(self) -> bool:
        return self._loaded

    def load(self) -> None:
        self._loaded = True

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription:
        if not self._loaded:
            raise RuntimeError("FakeEngine.transcribe() before load()")
        with self._lock:
            self.calls += 1
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise EngineError(self.fail_with)
        if options.task not in self._info.tasks:
            raise EngineError(f"this model cannot {options.task}")
        duration = len(audio) / SAMPLE_RATE
        text = f"fake transcript of {duration:.2f} seconds"
        if options.task == "translate":
            text = "translated " + text
        segment = Segment(
            id=0,
            start=0.0,
            end=round(duration, 3),
            text=text,
            avg_logprob=math.log(FAKE_CONFIDENCE),
            no_speech_prob=0.0,
            confidence=FAKE_CONFIDENCE,
        )
        segments = (segment,) if duration > 0 else ()
        return Transcription(
            text=text,
            language=options.language or self.language,
            language_probability=1.0,
            duration=duration,
            segments=segments,
            confidence=FAKE_CONFIDENCE if segments else 0.0,
        )

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        results: list[Transcription | EngineError] = []
        for audio, options in items:
            try:
                results.append(self.transcribe(audio, options))
            except EngineError as exc:
                results.append(exc)
        return results
