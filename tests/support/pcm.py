"""Live-audio helpers for the streaming tests: real speech as 16 kHz PCM16 frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from faster_whisper import decode_audio

FRAME_SAMPLES = 1600
"""100 ms at 16 kHz."""


def load_16k(path: Path) -> npt.NDArray[np.float32]:
    """Any audio file as 16 kHz mono float32."""
    samples: npt.NDArray[np.float32] = decode_audio(str(path), sampling_rate=16_000)
    return samples


def to_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def frames(pcm: bytes, frame_samples: int = FRAME_SAMPLES) -> list[bytes]:
    step = frame_samples * 2
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]
