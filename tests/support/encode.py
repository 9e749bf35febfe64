"""Encode audio into real containers in-test (PyAV/FFmpeg), so decoding is tested on files
produced by a real encoder rather than on checked-in fixtures."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Target:
    container: str
    codec: str
    sample_rate: int
    channels: int = 1


MP3 = Target("mp3", "libmp3lame", 44_100)
OGG_OPUS = Target("ogg", "libopus", 48_000)
WAV_8K_STEREO = Target("wav", "pcm_s16le", 8_000, channels=2)
FLAC = Target("flac", "flac", 16_000)
M4A = Target("ipod", "aac", 44_100)
WEBM_OPUS = Target("webm", "libopus", 48_000)


def encode(samples: Samples, sample_rate: int, target: Target) -> bytes:
    """Mono float32 `samples` at `sample_rate` -> bytes of `target` (resampled, and duplicated
    across channels when the target has more than one)."""
    out = io.BytesIO()
    layout = "mono" if target.channels == 1 else "stereo"
    with av.open(out, mode="w", format=target.container) as container:
        stream = container.add_stream(target.codec, rate=target.sample_rate)
        stream.layout = layout  # type: ignore[union-attr]
        fmt = stream.codec_context.format.name  # type: ignore[union-attr]
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=target.sample_rate)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = sample_rate
        frame.time_base = Fraction(1, sample_rate)
        frame.pts = 0
        frames = resampler.resample(frame) + resampler.resample(None)
        for chunk in frames:
            for packet in stream.encode(chunk):  # type: ignore[union-attr]
                container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return out.getvalue()


def sine(seconds: float, sample_rate: int = 16_000, hz: float = 440.0) -> Samples:
    t = np.arange(int(seconds * sample_rate), dtype=np.float32) / sample_rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
