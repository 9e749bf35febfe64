"""Chinese script conversion and ASRT-style pinyin."""

from __future__ import annotations

import pytest
from asr_server.text import convert_script, is_chinese, to_pinyin

TRADITIONAL = "甚至出現交易幾乎停滯的情況"
SIMPLIFIED = "甚至出现交易几乎停滞的情况"


def test_traditional_to_simplified_and_back() -> None:
    assert convert_script(TRADITIONAL, "simplified") == SIMPLIFIED
    assert convert_script(SIMPLIFIED, "traditional") == TRADITIONAL
    assert convert_script(TRADITIONAL, "as-is") == TRADITIONAL
    assert convert_script(SIMPLIFIED, "simplified") == SIMPLIFIED


def test_unknown_script_is_an_error() -> None:
    with pytest.raises(ValueError, match="klingon"):
        convert_script("x", "klingon")


def test_pinyin_has_tone_numbers_and_drops_punctuation() -> None:
    assert (
        to_pinyin("今天天气真好，我们走吧。") == "jin1 tian1 tian1 qi4 zhen1 hao3 wo3 men5 zou3 ba5"
    )


def test_pinyin_keeps_latin_words_and_digits() -> None:
    assert to_pinyin("用Python写3个") == "yong4 Python xie3 3 ge4"
    assert to_pinyin("") == ""


def test_chinese_language_codes() -> None:
    assert is_chinese("zh") and is_chinese("yue")
    assert not is_chinese("en") and not is_chinese(None)
