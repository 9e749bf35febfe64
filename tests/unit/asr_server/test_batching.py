"""Device defaults for admission and batching (config zeros), and explicit settings winning:
the batch size is the engine's own when it has one (BatchSizing), the setting's otherwise."""

from __future__ import annotations

import dataclasses

import pytest
from asr_server import batching
from asr_server.config import ServerConfig
from asr_server.engines.fake import FakeEngine
from asr_server.engines.whisper.sizing import batch_size


class WhisperSized(FakeEngine):
    """A fake engine on `device` with the Whisper engine's batch sizing for `cpus`."""

    def __init__(self, device: str, cpus: float, setting: int = 0) -> None:
        super().__init__()
        self._info = dataclasses.replace(self._info, device=device)
        self.cpus, self.setting = cpus, setting

    def max_batch_size(self) -> int:
        return batch_size(self.setting, self.info.device, self.cpus)


@pytest.mark.parametrize(
    ("cpus", "workers", "batch"), [(1.0, 1, 2), (2.0, 1, 4), (8.0, 2, 8), (16.0, 4, 8)]
)
def test_cpu_defaults_follow_the_container_cpu_limit(
    monkeypatch: pytest.MonkeyPatch, cpus: float, workers: int, batch: int
) -> None:
    monkeypatch.setattr(batching, "container_cpu_limit", lambda: cpus)
    engine = WhisperSized("cpu", cpus)
    settings = batching.resolve_settings(ServerConfig(batch_max_wait_ms=25), engine)
    assert (settings.concurrency, settings.max_batch_size) == (workers, batch)
    assert settings.max_wait_s == 0.025
    assert settings.cpu_limit == cpus


def test_gpu_defaults_and_explicit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "container_cpu_limit", lambda: 4.0)
    gpu = batching.resolve_settings(ServerConfig(), WhisperSized("cuda", 4.0))
    assert (gpu.concurrency, gpu.max_batch_size) == (batching.GPU_CONCURRENCY, 16)
    fixed = batching.resolve_settings(
        ServerConfig(max_concurrency=3, batch_max_size=5), WhisperSized("cuda", 4.0, setting=5)
    )
    assert (fixed.concurrency, fixed.max_batch_size) == (3, 5)


def test_an_engine_without_batch_sizing_gets_the_setting_or_one_at_a_time() -> None:
    assert batching.resolve_settings(ServerConfig(), FakeEngine()).max_batch_size == 1
    fixed = batching.resolve_settings(ServerConfig(batch_max_size=3), FakeEngine())
    assert fixed.max_batch_size == 3
