"""Chinese text helpers: script conversion (OpenCC) and pinyin for ASRT's `/speech` (pypinyin)."""

from __future__ import annotations

import dataclasses
import re
import threading
from functools import cache

import opencc

from asr_server.types import Transcription

SCRIPT_CONVERSIONS = {"simplified": "t2s", "traditional": "s2t"}
"""`output_script` -> OpenCC configuration; `as-is` converts nothing."""

_NON_HAN_WORD = re.compile(r"[A-Za-z0-9']+")
_LOCK = threading.Lock()


@cache
def _converter(config: str) -> opencc.OpenCC:
    """One converter per direction: loading OpenCC's dictionaries takes milliseconds each time."""
    return opencc.OpenCC(config)


def convert_script(text: str, script: str) -> str:
    """Chinese `text` in `script` (simplified | traditional | as-is)."""
    if script == "as-is" or not text:
        return text
    try:
        config = SCRIPT_CONVERSIONS[script]
    except KeyError:
        raise ValueError(f"unknown output script {script!r}") from None
    with _LOCK:  # OpenCC's C++ converter is not documented as thread-safe
        return str(_converter(config).convert(text))


def transcription_in_script(result: Transcription, script: str) -> Transcription:
    """`result` with its Chinese text, segments and words in `script` (other languages, and
    `as-is`, unchanged): every engine's results go through this, however they were decoded."""
    if script == "as-is" or not is_chinese(result.language):
        return result
    segments = tuple(
        dataclasses.replace(
            s,
            text=convert_script(s.text, script),
            words=tuple(
                dataclasses.replace(w, text=convert_script(w.text, script)) for w in s.words
            ),
        )
        for s in result.segments
    )
    return dataclasses.replace(result, text=convert_script(result.text, script), segments=segments)


def is_chinese(language: str | None) -> bool:
    """Whisper names Mandarin and Cantonese `zh`/`yue`; both may come out in either script."""
    return language in ("zh", "yue")


def to_pinyin(text: str) -> str:
    """Pinyin with tone numbers, as ASRT returns it: "jin1 tian1 tian1 qi4 zhen1 hao3".

    The neutral tone is 5 (ASRT's convention); punctuation is dropped; Latin words and digits
    in the text are kept as they are.
    """
    # Imported on first use: loading pypinyin's phrase dictionary costs ~0.5 s of startup.
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(
        text,
        style=Style.TONE3,
        neutral_tone_with_five=True,
        errors=lambda chunk: " ".join(_NON_HAN_WORD.findall(chunk)),
    )
    return " ".join(" ".join(syllables).split())
