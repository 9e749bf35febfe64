"""The realtime input: PCM16 at the client's rate to the stream's 16 kHz samples."""

from __future__ import annotations

import numpy as np
import pytest
from asr_server.streaming.realtime.items import PcmInput


def tone(rate: int, seconds: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()


@pytest.mark.parametrize("rate", [24_000, 48_000, 8_000])
def test_chunking_changes_nothing_and_the_rate_becomes_16k(rate: int) -> None:
    pcm = tone(rate, 1.0)
    whole = PcmInput(rate).push(pcm)
    chunked = PcmInput(rate)
    # Odd-sized chunks: a sample split across two appends is joined.
    parts = [chunked.push(pcm[i : i + 999]) for i in range(0, len(pcm), 999)]
    joined = np.concatenate(parts)
    assert abs(len(joined) - len(whole)) <= 32 and abs(len(whole) - 16_000) <= 64
    n = min(len(joined), len(whole))
    assert np.allclose(joined[: n - 64], whole[: n - 64], atol=1e-3)
    spectrum = np.abs(np.fft.rfft(whole))
    assert abs(np.argmax(spectrum) * 16_000 / len(whole) - 440) < 5  # still 440 Hz


def test_16k_input_is_only_converted() -> None:
    pcm = tone(16_000, 0.1)
    samples = PcmInput(16_000).push(pcm)
    assert len(samples) == 1600 and samples.dtype == np.float32
