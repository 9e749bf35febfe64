"""A decoding round of the batched decoder: how windows are cut into generate calls, where the
calls run, and how a failing call is isolated (pure: a fake decode call, no Whisper model)."""

from __future__ import annotations

from typing import Any

import numpy as np
from asr_server.engines.whisper.batched.rounds import (
    GroupKey,
    RoundRunner,
    call_size,
    split_into_calls,
)
from asr_server.engines.whisper.batched.windows import ItemPlan, Window
from asr_server.engines.whisper.fallback import DecodePass
from asr_server.engines.whisper.options import WhisperOptions
from asr_server.types import TranscribeOptions

MAIN, REPLICAS = object(), object()


def window(index: int, beam_size: int = 1, frames: int = 3000) -> Window:
    item = ItemPlan(index, TranscribeOptions(beam_size=beam_size), 1.0, "seek", WhisperOptions())
    features = np.zeros((80, 3000), dtype=np.float32)
    return Window(item, (0, 0), features, 0.0, frames, frames / 100, 0, features)


def key(w: Window) -> GroupKey:
    beam = w.item.options.beam_width
    return (DecodePass(beam, beam, 0.0), 1)


def frames(w: Window) -> int:
    return w.segment_size


def test_a_group_is_spread_over_the_workers_at_most_max_batch_size_per_call() -> None:
    assert call_size(8, max_batch_size=4, workers=1) == 4
    assert call_size(6, max_batch_size=4, workers=2) == 3
    assert call_size(1, max_batch_size=4, workers=2) == 1
    assert call_size(3, max_batch_size=8, workers=4) == 1


def test_calls_share_a_key_and_sort_by_encoder_length_keeping_item_order() -> None:
    windows = [window(0, frames=3000), window(1, beam_size=2), window(2, frames=1000)]
    windows.append(window(3, frames=1000))
    calls = split_into_calls(windows, key, frames, max_batch_size=2)
    assert [[w.item.index for w in call] for call in calls] == [[2, 3], [0], [1]]


class Recorder:
    """A decode call that records (windows, model) and fails for the items in `poisoned`."""

    def __init__(self, poisoned: frozenset[int] = frozenset()) -> None:
        self.calls: list[tuple[list[int], Any]] = []
        self.poisoned = poisoned

    def __call__(self, windows: list[Window], whisper: Any) -> list[Window]:
        self.calls.append(([w.item.index for w in windows], whisper))
        if self.poisoned & {w.item.index for w in windows}:
            raise RuntimeError("fault")
        return []


def test_with_replicas_only_a_round_larger_than_the_workers_is_split_across_them() -> None:
    decode = Recorder()
    runner = RoundRunner(MAIN, decode, key, frames, max_batch_size=4, workers=2, replicas=REPLICAS)
    runner.run([window(0), window(1)])
    assert decode.calls == [([0, 1], MAIN)] and runner.replica_rounds == 0
    decode.calls.clear()
    runner.run([window(i) for i in range(3)])
    assert sorted(decode.calls, key=str) == [([0, 1], REPLICAS), ([2], REPLICAS)]
    assert runner.replica_rounds == 1


def test_a_failing_call_is_made_again_one_window_at_a_time() -> None:
    decode = Recorder(poisoned=frozenset({1}))
    runner = RoundRunner(MAIN, decode, key, frames, max_batch_size=4)
    windows = [window(i) for i in range(3)]
    assert runner.run(windows) == []
    assert [indices for indices, _ in decode.calls] == [[0, 1, 2], [0], [1], [2]]
    assert [w.item.error is not None for w in windows] == [False, True, False]
