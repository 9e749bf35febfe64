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


VOICES = ("en-us", "en-gb", "en-us+f3")
"""espeak-ng voices of the accuracy comparisons (bench/peer_throughput.py, the encoder-context
test): one word is 1 % of the corpus over three voices, 4 % over one."""


@dataclass(frozen=True)
class Speech:
    name: str
    audio: np.ndarray
    reference: str
