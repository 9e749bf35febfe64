"""A controllable engine for server tests (scheduler, HTTP layer) that need no model.

`GatedEngine` answers with text that identifies the audio it was given (its length and first
sample), records every batch it decodes, and can be held at two points from the test: `load`
waits for `load_gate`, `transcribe_batch` waits for `decode_gate`. Tests release the gates
instead of sleeping, so they never depend on wall-clock timing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from asr_server.engines.base import EngineError, EngineInfo, transcribe_one
from asr_server.types import SAMPLE_RATE, Audio, Segment, TranscribeOptions, Transcription

POISON = 0.123
"""Audio whose first sample is this value makes the engine reject that item."""


def tone(seconds: float, first: float = 0.0) -> Audio:
    """Silence of the given length (first sample set, to tell requests apart)."""
    audio = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    if len(audio):
        audio[0] = first
    return audio


def label(audio: Audio) -> str:
    return f"n={len(audio)} first={float(audio[0]):.3f}"


class GatedEngine:
    def __init__(self, *, name: str = "gated-test", loaded: bool = True) -> None:
        self._ready = loaded
        self.load_gate = threading.Event()
        self.decode_gate = threading.Event()
        self.decode_gate.set()
        self.batches: list[list[tuple[str, TranscribeOptions]]] = []
        self.started = threading.Semaphore(0)
        """Released once per batch as it starts decoding."""
        self._info = EngineInfo(name=name, engine="fake", device="cpu", compute_type="int8")

    @property
    def info(self) -> EngineInfo:
        return self._info

    @property
    def ready(self) -> bool:
        return self._ready

    def load(self) -> None:
        self.load_gate.wait()
        self._ready = True

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription:
        return transcribe_one(self, audio, options)

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        self.batches.append([(label(audio), options) for audio, options in items])
        self.started.release()
        self.decode_gate.wait()
        results: list[Transcription | EngineError] = []
        for audio, options in items:
            if len(audio) and abs(float(audio[0]) - POISON) < 1e-6:
                results.append(EngineError("poisoned test item"))
                continue
            duration = len(audio) / SAMPLE_RATE
            text = label(audio)
            segment = Segment(0, 0.0, duration, text, -0.1, 0.01, float(np.exp(-0.1)))
            results.append(
                Transcription(
                    text=text,
                    language=options.language or "en",
                    language_probability=1.0,
                    duration=duration,
                    segments=(segment,),
                    confidence=segment.confidence,
                )
            )
        return results
