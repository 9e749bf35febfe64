"""Shared fixtures: paths, the recorded test audio and its reference transcripts."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_AUDIO = REPO_ROOT.parent / "shared" / "audio"


@dataclass(frozen=True)
class Clip:
    """A recorded clip from ../shared/audio with its reference transcript."""

    path: Path
    language: str
    transcript: str


def _load_clips() -> dict[str, Clip]:
    table = SHARED_AUDIO / "transcripts.tsv"
    if not table.exists():
        return {}
    with table.open(encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        return {
            row["file"]: Clip(SHARED_AUDIO / row["file"], row["language"], row["transcript"])
            for row in rows
        }


CLIPS = _load_clips()


def _clip(name: str) -> Clip:
    clip = CLIPS.get(name)
    if clip is None or not clip.path.exists():
        pytest.skip(f"recorded test audio {name} is absent: expected it in {SHARED_AUDIO}")
    return clip


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def jfk_clip() -> Clip:
    """English, 11 s, 44.1 kHz stereo FLAC."""
    return _clip("jfk.flac")


@pytest.fixture(scope="session")
def mandarin_clip() -> Clip:
    """Mandarin, 4.2 s, 16 kHz mono WAV (AISHELL-1)."""
    return _clip("BAC009S0764W0121.wav")
