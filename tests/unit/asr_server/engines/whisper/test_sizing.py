"""How the Whisper engine sizes its batches and lays out its CPU threads (pure)."""

from __future__ import annotations

import pytest
from asr_server.engines.hardware import cpu_threads
from asr_server.engines.whisper.sizing import batch_size, cpu_layout


@pytest.mark.parametrize(
    ("device", "cpus", "expected"),
    [
        ("cpu", 0.5, 2),
        ("cpu", 1, 2),
        ("cpu", 2, 4),
        ("cpu", 3.7, 6),
        ("cpu", 64, 8),
        ("cuda", 2, 16),
    ],
)
def test_default_batch_size_follows_the_cpu_limit_and_device(
    device: str, cpus: float, expected: int
) -> None:
    assert batch_size(0, device, cpus) == expected


def test_batch_defaults_report_threads_from_whole_cpus() -> None:
    assert (batch_size(0, "cpu", 2.5), cpu_threads(2.5)) == (4, 2)


def test_an_explicit_batch_size_wins() -> None:
    assert batch_size(5, "cuda", 2) == 5
    assert batch_size(3, "cpu", 64) == 3


@pytest.mark.parametrize(
    ("setting", "device", "threads", "expected"),
    [
        ("auto", "cpu", 2, "adaptive"),
        ("auto", "cpu", 1, "single"),  # one thread: nothing to split
        ("auto", "cuda", 0, "single"),
        ("adaptive", "cuda", 0, "single"),  # replicas are a CPU layout
        ("adaptive", "cpu", 4, "adaptive"),
        ("single", "cpu", 8, "single"),
    ],
)
def test_cpu_layout(setting: str, device: str, threads: int, expected: str) -> None:
    assert cpu_layout(setting, device, threads) == expected


def test_cpu_layout_refuses_unknown_settings() -> None:
    with pytest.raises(ValueError, match="cpu layout"):
        cpu_layout("threads", "cpu", 2)
