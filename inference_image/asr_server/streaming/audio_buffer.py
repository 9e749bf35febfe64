"""The audio a stream keeps: PCM16 frames in, float samples out by absolute stream offset."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np

from asr_server.types import Audio


class AudioBuffer:
    """Samples [start, total) of the stream, and when each frame arrived (for latencies)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._samples = np.zeros(0, dtype=np.float32)
        self.start = 0
        """Absolute offset of the first kept sample."""
        self.total = 0
        """Samples received so far."""
        self._leftover = b""
        self._arrivals: deque[tuple[int, float]] = deque()  # (end sample, clock) per frame

    def append(self, pcm: bytes) -> Audio | None:
        """Take one frame of PCM16 little-endian mono (odd bytes carry over); return its
        samples, or None when it held less than one."""
        data = self._leftover + pcm
        usable = len(data) - len(data) % 2
        self._leftover = data[usable:]
        if usable == 0:
            return None
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
        self.extend(samples)
        return samples

    def extend(self, samples: Audio) -> None:
        """Take samples already at 16 kHz float (a transport that resampled them)."""
        self.total += len(samples)
        self._samples = np.concatenate([self._samples, samples])
        self._arrivals.append((self.total, self._clock()))

    def slice(self, start: int, end: int) -> Audio:
        return self._samples[start - self.start : end - self.start].copy()

    def trim(self, keep_from: int) -> None:
        """Forget the samples before `keep_from` (never ahead of what is already kept)."""
        keep_from = max(keep_from, self.start)
        self._samples = self._samples[keep_from - self.start :]
        self.start = keep_from
        while len(self._arrivals) > 1 and self._arrivals[0][0] <= keep_from:
            self._arrivals.popleft()

    def arrival(self, sample: int) -> float:
        """When the frame holding `sample` arrived (now if it is no longer remembered)."""
        for end, at in self._arrivals:
            if end >= sample:
                return at
        return self._clock()
