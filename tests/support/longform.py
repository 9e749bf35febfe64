"""Long recordings that trip Whisper's repetition check because the speech really repeats, and
the test of lost speech: which reference word groups a transcript is missing.

Shared by the decoder tests and `bench/longform.py`. Each input is more than one 30 s window,
so the server decodes it as VAD chunks.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from asr_server.audio import decode_audio
from asr_server.types import SAMPLE_RATE

from support.text import aligned_hits, spoken_words

JFK_CLAUSES = (
    "And so my fellow Americans, ask not what your country can do for you,",
    "ask what you can do for your country.",
)
IVR_MENU = (
    "For billing, press one.",
    "For technical support, press two.",
    "To hear these options again, press nine.",
)
"""A phone menu, read four times in a row as IVR systems do."""
SENTENCES = (
    "The quarterly report is due on Friday, so please send your numbers to the finance team.",
    "Our new office opens in March, and everyone is invited to the celebration.",
)


@dataclass(frozen=True)
class LongSpeech:
    name: str
    audio: np.ndarray
    groups: tuple[str, ...]
    """The reference, in word groups (a clause or a menu option) in order."""

    @property
    def reference(self) -> str:
        return " ".join(self.groups)


def synthesize(text: str) -> np.ndarray:
    """espeak-ng's US English voice, as 16 kHz mono float32."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        return decode_audio(wav.read_bytes())


def pause(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def jfk_three_times(jfk: np.ndarray) -> LongSpeech:
    """jfk back to back three times (33 s)."""
    return LongSpeech("jfk x3", np.tile(jfk, 3), JFK_CLAUSES * 3)


def ivr_menu() -> LongSpeech:
    """The phone menu four times with 1.5 s pauses (31 s, espeak-ng)."""
    menu = synthesize(" ".join(IVR_MENU))
    audio = np.concatenate([menu, pause(1.5), menu, pause(1.5), menu, pause(1.5), menu])
    return LongSpeech("ivr menu x4", audio, IVR_MENU * 4)


def clips_with_pauses(jfk: np.ndarray) -> LongSpeech:
    """jfk, two espeak-ng sentences and jfk again, 1.5 s apart (36 s)."""
    parts = [jfk, pause(1.5)]
    for sentence in SENTENCES:
        parts += [synthesize(sentence), pause(1.5)]
    return LongSpeech(
        "clips + pauses", np.concatenate([*parts, jfk]), (*JFK_CLAUSES, *SENTENCES, *JFK_CLAUSES)
    )


def lost_groups(groups: Sequence[str], hypothesis: str) -> list[str]:
    """The groups of which a minimum-edit alignment finds fewer than half the words."""
    words = [spoken_words(group) for group in groups]
    hits = aligned_hits([w for group in words for w in group], spoken_words(hypothesis))
    lost, start = [], 0
    for group, group_words in zip(groups, words, strict=True):
        found = sum(hits[start : start + len(group_words)])
        if found * 2 < len(group_words):
            lost.append(group)
        start += len(group_words)
    return lost
