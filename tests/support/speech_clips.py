"""English speech clips for the decoder tests (fixtures in integration/asr_server/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PHRASES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things from the store.",
    "The children are playing football in the park.",
    "Open the window, it is very hot in here.",
    "Turn left at the next traffic light and drive for two miles.",
    "Thank you very much for your help with the project yesterday.",
    "We will meet at the train station at seven in the morning.",
]


@dataclass(frozen=True)
class Speech:
    name: str
    audio: np.ndarray
    reference: str
