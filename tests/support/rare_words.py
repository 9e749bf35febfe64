"""Speech with rare words: espeak-ng sentences naming people, places and terms that Whisper
writes wrongly without help, each with the hotwords that name them. Used by the torch engine's
hotword tests and by bench/accuracy.py (hotword recall and WER)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from asr_server.audio import decode_audio

from support.text import normalize_words


@dataclass(frozen=True)
class RareSentence:
    text: str
    hotwords: tuple[str, ...]


RARE_SENTENCES = (
    RareSentence("Please send the report to Siobhan Przybylski before noon.",
                 ("Siobhan", "Przybylski")),
    RareSentence("The Zipformer model was trained with icefall on the new cluster.",
                 ("Zipformer", "icefall")),
    RareSentence("We deployed Kubernetes with the asrfleet operator yesterday.",
                 ("Kubernetes", "asrfleet")),
    RareSentence("Doctor Nguyen prescribed ibuprofen and metoclopramide for the patient.",
                 ("Nguyen", "ibuprofen", "metoclopramide")),
    RareSentence("The orchestra played Dvorak and Szymanowski at the Wigmore Hall.",
                 ("Dvorak", "Szymanowski", "Wigmore Hall")),
    RareSentence("Our meeting with Aoife Ni Fhearraigh moved to Thursday.",
                 ("Aoife", "Ni Fhearraigh")),
    RareSentence("The new Paraformer checkpoint beats the Conformer baseline.",
                 ("Paraformer", "Conformer")),
    RareSentence("Ask Tadeusz about the Quetzalcoatl exhibit in Oaxaca.",
                 ("Tadeusz", "Quetzalcoatl", "Oaxaca")),
    RareSentence("The chemist added tetrahydrocannabinol to the Erlenmeyer flask.",
                 ("tetrahydrocannabinol", "Erlenmeyer")),
    RareSentence("Kieran flew from Reykjavik to Llandudno on Tuesday.",
                 ("Kieran", "Reykjavik", "Llandudno")),
)  # fmt: skip

UNRELATED_HOTWORDS = ("Przybylski", "Quetzalcoatl", "Kubernetes", "Zipformer", "Llandudno")
"""Hotwords that occur nowhere in jfk: biasing with them must leave its text alone."""


def speak(text: str, directory: Path, name: str) -> np.ndarray:
    """espeak-ng's US English voice saying `text`, as 16 kHz float32 samples."""
    wav = directory / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
    return decode_audio(wav.read_bytes())


def hotword_hits(hotwords: tuple[str, ...], text: str) -> int:
    """How many of `hotwords` appear in `text` (normalised words, case-insensitive)."""
    words = f" {' '.join(normalize_words(text))} "
    return sum(f" {' '.join(normalize_words(h))} " in words for h in hotwords)
