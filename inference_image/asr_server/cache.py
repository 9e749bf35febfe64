"""LRU cache of recognition results.

The key is a blake2b hash of the decoded 16 kHz float32 samples plus every option that can
change the result, so the same audio sent as FLAC, WAV or base64 PCM hits the same entry.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import astuple

from asr_server.metrics import Metrics
from asr_server.types import Audio, TranscribeOptions, Transcription


def cache_key(audio: Audio, options: TranscribeOptions) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(audio.astype("<f4", copy=False).tobytes())
    digest.update(repr(astuple(options)).encode())
    return digest.hexdigest()


class ResultCache:
    """Bounded LRU; used from the event loop only (no locking). `max_entries` 0 disables it."""

    def __init__(self, max_entries: int, metrics: Metrics | None = None) -> None:
        self.max_entries = max_entries
        self._metrics = metrics
        self._entries: OrderedDict[str, Transcription] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Transcription | None:
        if not self.enabled:
            return None
        result = self._entries.get(key)
        if result is None:
            if self._metrics:
                self._metrics.cache_misses_total.inc()
            return None
        self._entries.move_to_end(key)
        if self._metrics:
            self._metrics.cache_hits_total.inc()
        return result

    def put(self, key: str, result: Transcription) -> None:
        if not self.enabled:
            return
        self._entries[key] = result
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
