"""One decoding round of the batched decoder: which windows share a generate call, and where
each call runs.

A round's windows are grouped by `GroupKey` (what CTranslate2 applies to a whole generate
call), sorted by encoder length within a group so that similar lengths share a call, and cut
into calls of at most `max_batch_size` windows. With `workers` > 1 a group's calls are spread
evenly over a thread pool (CTranslate2 runs one call per worker). With `replicas`, a
CTranslate2 Whisper of `workers` single-thread replicas, only a round of more windows than
workers is split across them; a smaller one is one call on the main model, all of its threads
on one call (the lower latency for a lone request). A call that raises is made again one window
at a time, so one bad item fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

from asr_server.engines.base import EngineError
from asr_server.engines.whisper import fallback
from asr_server.engines.whisper.batched.prompts import WhisperPrompts
from asr_server.engines.whisper.batched.windows import ItemPlan, Window

log = logging.getLogger(__name__)

GroupKey = tuple[fallback.DecodePass, int]
"""(how the rows are decoded, start-of-transcript position): what one generate call shares."""

DecodeCall = Callable[[list[Window], Any], list[Window]]
"""One encode + generate of windows with one group key on a CTranslate2 Whisper (the model or
its replicas); returns the windows to decode in the next round."""


def group_key(window: Window, prompts: WhisperPrompts) -> GroupKey:
    """What `window`'s generate call must share with every other row of it."""
    return (window_pass(window), prompts.sot_position(window))


def item_passes(item: ItemPlan) -> tuple[fallback.DecodePass, ...]:
    """The decode passes each of `item`'s windows may get (engines/whisper/fallback.py)."""
    options = item.options
    return fallback.passes(options.temperature, options.beam_width, item.whisper.fallback)


def window_pass(window: Window) -> fallback.DecodePass:
    """The decode pass `window` is due for."""
    return item_passes(window.item)[window.pass_index]


def call_size(windows: int, max_batch_size: int, workers: int) -> int:
    """Windows per call for a group of `windows`: spread evenly over `workers`, at most
    `max_batch_size` per call."""
    return max(1, min(max_batch_size, -(-windows // workers)))


def split_into_calls(
    windows: Sequence[Window],
    key: Callable[[Window], GroupKey],
    frames: Callable[[Window], int],
    max_batch_size: int,
    workers: int = 1,
) -> list[list[Window]]:
    """The generate calls of a round: windows grouped by `key`, sorted by encoder `frames`
    within a group, cut by `call_size`."""
    calls: list[list[Window]] = []
    ordered = sorted(windows, key=key)  # stable: item and window order kept
    for _, group in groupby(ordered, key=key):
        batch = sorted(group, key=frames)  # similar lengths share a call
        size = call_size(len(batch), max_batch_size, workers)
        calls.extend(batch[start : start + size] for start in range(0, len(batch), size))
    return calls


class RoundRunner:
    """Decodes rounds of windows through `decode_call`, on the model or on its replicas."""

    def __init__(
        self,
        whisper: Any,
        decode_call: DecodeCall,
        key: Callable[[Window], GroupKey],
        frames: Callable[[Window], int],
        max_batch_size: int,
        workers: int = 1,
        replicas: Any = None,
    ) -> None:
        """`whisper` is the model's `ctranslate2.models.Whisper`; `key` and `frames` give a
        window's group key and encoder length."""
        self.whisper = whisper
        self.decode_call = decode_call
        self.key = key
        self.frames = frames
        self.max_batch_size = max_batch_size
        self.workers = workers
        self.replicas = replicas
        self._pool = ThreadPoolExecutor(workers, "batched-decode") if workers > 1 else None
        self.replica_rounds = 0
        """Rounds split across `replicas` (the others ran on `whisper`)."""

    def run(self, windows: list[Window]) -> list[Window]:
        """Decode one round; returns the windows to decode in the next one."""
        # With replicas, only a round with more windows than replicas is split across them.
        parallel = self._pool is not None and (self.replicas is None or len(windows) > self.workers)
        whisper = self.replicas if parallel and self.replicas is not None else self.whisper
        self.replica_rounds += whisper is self.replicas
        calls = split_into_calls(
            windows, self.key, self.frames, self.max_batch_size, self.workers if parallel else 1
        )
        if self._pool is None or not parallel or len(calls) == 1:
            results = [self._decode(call, whisper) for call in calls]
        else:
            results = list(self._pool.map(lambda call: self._decode(call, whisper), calls))
        return [window for follow_ups in results for window in follow_ups]

    def _decode(self, windows: list[Window], whisper: Any) -> list[Window]:
        """One call on `whisper`; if it raises, its windows one at a time."""
        windows = [w for w in windows if w.item.error is None]
        if not windows:
            return []
        try:
            return self.decode_call(windows, whisper)
        except Exception as exc:
            if len(windows) == 1:
                log.warning("item %d failed to decode: %s", windows[0].item.index, exc)
                windows[0].item.error = EngineError(f"decoding failed: {exc}")
                return []
            # Decode the rest again without the bad item: one at a time isolates it.
            log.warning("batch of %d failed (%s); decoding its windows apart", len(windows), exc)
            follow_ups: list[Window] = []
            for window in windows:
                follow_ups.extend(self._decode([window], whisper))
            return follow_ups
