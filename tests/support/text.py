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


_DIGIT_WORDS = {
    str(digit): word
    for digit, word in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    )
}


def spoken_words(text: str) -> list[str]:
    """normalize_words, with lone digits as the words a speaker says ("press 1" = "press one")."""
    return [_DIGIT_WORDS.get(word, word) for word in normalize_words(text)]


def aligned_hits(ref: list[str], hyp: list[str]) -> list[bool]:
    """For each reference word: whether a minimum-edit alignment matches it to an equal
    hypothesis word."""
    rows = [list(range(len(hyp) + 1))]
    for i, r in enumerate(ref, 1):
        row = [i]
        for j, h in enumerate(hyp, 1):
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (r != h)))
        rows.append(row)
    hits = [False] * len(ref)
    i, j = len(ref), len(hyp)
    while i > 0 and j > 0:
        if rows[i][j] == rows[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            hits[i - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif rows[i][j] == rows[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return hits
