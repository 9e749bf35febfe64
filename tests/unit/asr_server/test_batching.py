"""Device defaults for admission and batching (config zeros), and explicit settings winning."""

from __future__ import annotations

import pytest
from asr_server import batching
from asr_server.config import ServerConfig


@pytest.mark.parametrize(
    ("cpus", "workers", "batch"), [(1.0, 1, 2), (2.0, 1, 4), (8.0, 2, 8), (16.0, 4, 8)]
)
def test_cpu_defaults_follow_the_container_cpu_limit(
    monkeypatch: pytest.MonkeyPatch, cpus: float, workers: int, batch: int
) -> None:
    monkeypatch.setattr(batching, "container_cpu_limit", lambda: cpus)
    settings = batching.resolve_settings(ServerConfig(batch_max_wait_ms=25), "cpu")
    assert (settings.concurrency, settings.max_batch_size) == (workers, batch)
    assert settings.max_wait_s == 0.025
    assert settings.cpu_limit == cpus


def test_gpu_defaults_and_explicit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "container_cpu_limit", lambda: 4.0)
    gpu = batching.resolve_settings(ServerConfig(), "cuda")
    assert (gpu.concurrency, gpu.max_batch_size) == (batching.GPU_CONCURRENCY, 16)
    fixed = batching.resolve_settings(ServerConfig(max_concurrency=3, batch_max_size=5), "cuda")
    assert (fixed.concurrency, fixed.max_batch_size) == (3, 5)
