"""Streaming voice-activity detection with the Silero VAD model that ships inside faster-whisper.

`faster_whisper.vad.SileroVADModel.__call__` scores a whole recording at once and throws away
its LSTM state; a live stream needs the state carried from one frame to the next. The ONNX
model treats its batch axis as time (one 512-sample window per row, each prefixed by the last
64 samples of the previous window), so feeding the windows of each frame with the state of the
last call gives exactly the probabilities the offline call would give on the whole stream.

The ONNX session is the process-wide one from `faster_whisper.vad.get_vad_model()` (an
`onnxruntime.InferenceSession` is safe to share); each stream only owns its 1 KB of state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

WINDOW_SAMPLES = 512
"""Samples scored per VAD decision (32 ms at 16 kHz)."""
CONTEXT_SAMPLES = 64
"""Samples of the previous window the model sees before each window."""

Samples = npt.NDArray[np.float32]


class SileroStream:
    """Speech probability per 32 ms window of one stream, fed incrementally."""

    def __init__(self) -> None:
        # Imported here: faster-whisper (and CTranslate2 with it) is not needed by the
        # commands that only read these settings, and costs them a tenth of a second to start.
        from faster_whisper.vad import get_vad_model

        self._session: Any = get_vad_model().session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: Samples) -> list[float]:
        """Probabilities for every whole window completed by `samples` (leftover kept)."""
        audio = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n_windows = len(audio) // WINDOW_SAMPLES
        self._pending = audio[n_windows * WINDOW_SAMPLES :]
        if n_windows == 0:
            return []
        windows = audio[: n_windows * WINDOW_SAMPLES].reshape(n_windows, WINDOW_SAMPLES)
        contexts = np.empty((n_windows, CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = windows[:-1, -CONTEXT_SAMPLES:]
        self._context = windows[-1, -CONTEXT_SAMPLES:].copy()
        batch = np.ascontiguousarray(np.concatenate([contexts, windows], axis=1))
        probs, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        return [float(p) for p in np.asarray(probs).reshape(-1)]


@dataclass(frozen=True)
class EndpointSettings:
    """When speech starts and ends, in the terms of faster-whisper's VadOptions."""

    threshold: float = 0.5
    """A window at or above this probability is speech."""
    neg_threshold: float = 0.35
    """Speech ends only after windows below this (hysteresis)."""
    min_silence_s: float = 0.5
    """Silence that closes an utterance; `math.inf`: none does (the client says where
    utterances end, as an OpenAI realtime client without turn detection does)."""
    min_speech_s: float = 0.25
    """Shorter bursts are dropped as noise (no final)."""
    pad_s: float = 0.2
    """Audio kept before the detected onset and after the last speech window."""
    prefix_pad_s: float | None = None
    """Audio kept before the detected onset, when it differs from `pad_s` (an OpenAI
    realtime client's `prefix_padding_ms`)."""

    @property
    def onset_pad_s(self) -> float:
        return self.pad_s if self.prefix_pad_s is None else self.prefix_pad_s


@dataclass(frozen=True)
class VadEvent:
    """A change in speech state at an absolute sample offset of the stream."""

    kind: str
    """`start` (speech began at `sample`) or `end` (speech ended at `sample`)."""
    sample: int


class Endpointer:
    """Turns per-window probabilities into speech start/end events (a hysteresis state
    machine: `threshold` to start, `min_silence_s` below `neg_threshold` to end)."""

    def __init__(self, settings: EndpointSettings, sample_rate: int = 16_000) -> None:
        self.settings = settings
        # Whole windows, rounded up: at least the silence asked for (300 ms -> 10 windows, 320 ms).
        windows = settings.min_silence_s * sample_rate / WINDOW_SAMPLES
        self._min_silence_windows = (
            max(1, math.ceil(windows - 1e-9)) if math.isfinite(windows) else math.inf
        )
        self._windows = 0
        self._silent_run = 0
        self.in_speech = False
        self._last_speech_end = 0

    def update(self, probs: list[float]) -> list[VadEvent]:
        events: list[VadEvent] = []
        for prob in probs:
            start, end = self._windows * WINDOW_SAMPLES, (self._windows + 1) * WINDOW_SAMPLES
            self._windows += 1
            if not self.in_speech:
                if prob >= self.settings.threshold:
                    self.in_speech = True
                    self._silent_run = 0
                    self._last_speech_end = end
                    events.append(VadEvent("start", start))
                continue
            if prob >= self.settings.neg_threshold:
                self._silent_run = 0
                self._last_speech_end = end
            else:
                self._silent_run += 1
                if self._silent_run >= self._min_silence_windows:
                    self.in_speech = False
                    events.append(VadEvent("end", self._last_speech_end))
        return events

    def reset(self) -> None:
        """Forget the current speech state (its utterance was cut): the next voiced window
        starts a new one."""
        self.in_speech = False
        self._silent_run = 0

    @property
    def speaking(self) -> bool:
        """In an utterance and the last window was voiced (not inside a pause)."""
        return self.in_speech and self._silent_run == 0

    @property
    def pausing(self) -> bool:
        """In an utterance, in a pause that may become its end (last window unvoiced)."""
        return self.in_speech and self._silent_run > 0

    @property
    def last_speech_end(self) -> int:
        """Sample where the last voiced window ended: the utterance's end if this pause lasts."""
        return self._last_speech_end
