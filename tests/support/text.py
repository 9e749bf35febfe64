"""Transcript comparison as speech engineers do it: WER on normalised words, CER on characters."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)


def normalize_words(text: str) -> list[str]:
    """Lower-case, drop punctuation, split on whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _PUNCT.sub(" ", text).split()


def normalize_chars(text: str) -> list[str]:
    """Characters of a CJK transcript with punctuation and spaces removed."""
    text = unicodedata.normalize("NFKC", text)
    return [c for c in _PUNCT.sub("", text) if not c.isspace()]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = normalize_words(reference)
    return edit_distance(ref, normalize_words(hypothesis)) / max(len(ref), 1)


def char_error_rate(reference: str, hypothesis: str) -> float:
    ref = normalize_chars(reference)
    return edit_distance(ref, normalize_chars(hypothesis)) / max(len(ref), 1)
