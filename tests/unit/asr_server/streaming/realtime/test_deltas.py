"""Which partial text becomes a delta, and that the deltas add up to the completed transcript."""

from __future__ import annotations

import random

import pytest
from asr_server.streaming.realtime.deltas import StableText, tokens


def test_tokens_join_back_to_the_text_and_split_cjk_by_character() -> None:
    assert tokens("ask not what") == ["ask", " not", " what"]
    assert tokens("甚至出现") == ["甚", "至", "出", "现"]
    assert "".join(tokens("And so, my fellow Americans.")) == "And so, my fellow Americans."


def test_a_token_is_sent_once_enough_partials_agree_and_never_a_partials_last_two() -> None:
    text = StableText(agreement=2)
    assert text.partial("ask not what") == ""  # one partial: nothing agreed yet
    # Two agree on every word, but only "ask" is before both partials' last two tokens.
    assert text.partial("ask not what") == "ask"
    # "not" is agreed, but it is among the last two tokens of the older partial.
    assert text.partial("ask not what your country") == ""
    assert text.partial("ask not what your country can") == " not what"
    last, transcript = text.final("ask not what your country can do for you.")
    assert last == " your country can do for you."
    assert transcript == "ask not what your country can do for you."


def test_a_revised_word_is_not_sent_until_partials_agree_again() -> None:
    text = StableText(agreement=2)
    text.partial("like your country can")
    assert text.partial("what your country can do") == ""  # "like" and "what" disagree
    assert text.partial("what your country can do for") == "what your country"


def test_the_partials_tiny_en_gave_on_jfk_do_not_send_like_for_what_at_low() -> None:
    # Recorded from a realtime session (tiny.en, jfk's third utterance, 500 ms partials): with
    # only the newest partial's last token held back, "like" went out as a delta.
    text = StableText(agreement=2)
    partials = ["like you", "like your country", "what your country can do"]
    assert [text.partial(p) for p in partials] == ["", "", ""]
    assert text.partial("what your country can do for you") == "what your country"
    last, transcript = text.final("what your country can do for you.")
    assert (last, transcript) == (" can do for you.", "what your country can do for you.")
    assert not text.revised


def test_a_final_that_disagrees_with_sent_text_keeps_it_and_adds_its_rest() -> None:
    text = StableText(agreement=2)
    text.partial("like your country can do")
    assert text.partial("like your country can do for") == "like your country"
    last, transcript = text.final("What your country can do for you.")
    assert last == " can do for you."
    assert transcript == "like your country can do for you."
    assert text.revised


def test_without_agreement_the_final_is_the_one_delta() -> None:
    text = StableText(agreement=None)
    assert text.partial("ask not") == "" and text.partial("ask not") == ""
    assert text.final(" Ask not.") == ("Ask not.", "Ask not.")


def test_a_later_utterance_of_one_item_starts_with_a_space() -> None:
    text = StableText(agreement=1, lead=" ")
    assert text.partial("ask what you can") == " ask what"
    assert text.final("ask what you can do") == (" you can do", " ask what you can do")


WORDS = ["ask", "not", "what", "like", "your", "country", "Ask", "not.", "甚", "至"]


@pytest.mark.parametrize("agreement", [None, 1, 2, 3])
def test_the_deltas_always_add_up_to_the_completed_transcript(agreement: int | None) -> None:
    rng = random.Random(agreement)
    for _ in range(500):  # random partial sequences: revisions, shrinking, growing, empty
        text = StableText(agreement=agreement, lead=rng.choice(["", " "]))
        partials = [rng.choices(WORDS, k=rng.randint(0, 8)) for _ in range(rng.randint(0, 8))]
        sent = "".join(text.partial(" ".join(p)) for p in partials)
        last, transcript = text.final(" ".join(rng.choices(WORDS, k=rng.randint(0, 8))))
        assert sent + last == transcript, (partials, transcript)
