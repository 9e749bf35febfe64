"""The hotword context graph: prefix matching, withdrawal on a broken match, banking on a
complete one, failure links to a suffix match, and the request syntax."""

from __future__ import annotations

import pytest
from asr_server.engines.base import EngineError
from asr_server.engines.torch.context_graph import (
    MAX_HOTWORDS,
    ContextGraph,
    Hotword,
    Match,
    hotword_graph,
    parse_hotwords,
)

ROOT = ContextGraph.ROOT


def walk(graph: ContextGraph, tokens: list[int]) -> tuple[int, float]:
    """(final state, total boost) of a hypothesis made of `tokens`."""
    state, total = ROOT, 0.0
    for token in tokens:
        state, boost = graph.step(state, token)
        total += boost
    return state, total


def test_each_token_of_a_match_earns_the_score() -> None:
    graph = ContextGraph([([1, 2, 3], 2.0)])
    state, boost = graph.step(ROOT, 1)
    assert boost == 2.0
    state, boost = graph.step(state, 2)
    assert boost == 2.0 and graph.pending(state) == 4.0


def test_a_complete_match_is_banked() -> None:
    graph = ContextGraph([([1, 2, 3], 2.0)])
    state, total = walk(graph, [1, 2, 3])
    assert total == 6.0 and graph.is_end(state) and graph.pending(state) == 0.0
    _, after = walk(graph, [1, 2, 3, 9, 9])
    assert after == 6.0  # what follows a completed hotword takes nothing back


def test_a_broken_match_withdraws_what_it_earned() -> None:
    graph = ContextGraph([([1, 2, 3], 2.0)])
    state, total = walk(graph, [1, 2, 7])
    assert state == ROOT and total == 0.0
    _, total = walk(graph, [5, 1, 2, 3, 5, 1, 2, 6])
    assert total == 6.0  # one complete match kept, the partial one withdrawn


def test_ending_inside_a_match_forfeits_it() -> None:
    """The end-of-text token is no hotword token: it takes the step back to the root."""
    graph = ContextGraph([([1, 2, 3], 2.0)])
    state, _ = walk(graph, [1, 2])
    assert graph.transitions(state).otherwise == -4.0


def test_failure_links_fall_back_to_the_longest_suffix_match() -> None:
    # "1 2 4" breaks off "1 2 3" but "2 4" is itself the start of a hotword.
    graph = ContextGraph([([1, 2, 3], 1.0), ([2, 4, 5], 1.0)])
    state, total = walk(graph, [1, 2, 4])
    assert total == pytest.approx(2.0)  # 1 + 1 withdrawn, then "2 4" granted at once
    state, boost = graph.step(state, 5)
    assert graph.is_end(state) and total + boost == pytest.approx(3.0)


def test_transitions_agree_with_step() -> None:
    graph = ContextGraph([([1, 2, 3], 1.5), ([2, 4], 3.0), ([1, 5], 1.0)])
    for state in range(graph.size):
        moves = graph.transitions(state)
        for token, target, boost in zip(moves.tokens, moves.targets, moves.boosts, strict=True):
            assert graph.step(state, token) == (target, pytest.approx(boost))
        assert graph.step(state, 999) == (ROOT, pytest.approx(moves.otherwise))


def test_shared_prefixes_keep_the_higher_score_and_both_ends() -> None:
    graph = ContextGraph([([1, 2], 1.0), ([1, 2, 3], 2.0)])
    state, total = walk(graph, [1, 2])
    assert graph.is_end(state) and total == 4.0
    _, total = walk(graph, [1, 2, 3])
    assert total == 6.0


def test_hotword_graph_spells_cased_words_after_a_space_only() -> None:
    encoded: list[str] = []

    def encode(text: str) -> list[int]:
        encoded.append(text)
        return [ord(c) for c in text]

    hotword_graph([Hotword("kubernetes")], encode, 1.0)
    assert set(encoded) == {" kubernetes", " Kubernetes"}
    encoded.clear()
    hotword_graph([Hotword("北京")], encode, 1.0)
    assert set(encoded) == {" 北京", "北京"}
    assert hotword_graph([], encode, 1.0) is None


def test_parse_hotwords_reads_phrases_and_optional_scores() -> None:
    assert parse_hotwords("Kubernetes:3, Dvořák ;new  york\n") == (
        Hotword("Kubernetes", 3.0),
        Hotword("Dvořák"),
        Hotword("new york"),
    )
    assert parse_hotwords("  ") == ()
    assert parse_hotwords(None) == ()


@pytest.mark.parametrize(
    "text", ["Kubernetes:0", "Kubernetes:-1", "Kubernetes:11", "Kubernetes:nan", ":2", "x" * 101]
)
def test_parse_hotwords_refuses_bad_entries(text: str) -> None:
    with pytest.raises(EngineError):
        parse_hotwords(text)


def test_parse_hotwords_refuses_too_many() -> None:
    with pytest.raises(EngineError, match="at most"):
        parse_hotwords(",".join(f"w{i}" for i in range(MAX_HOTWORDS + 1)))


def test_a_hypothesis_earns_each_hotword_once() -> None:
    graph = ContextGraph([([1, 2], 3.0)])
    match, total = Match(), 0.0
    for token in [1, 2, 1, 2, 1, 2]:
        match, boost = graph.advance(match, token)
        total += boost
    assert total == pytest.approx(6.0)  # the first "1 2" only; each repeat nets zero
    moves = graph.moves(Match(match.node, match.completed))
    first = graph.transitions(ROOT).tokens.index(1)
    assert moves.boosts[first] == pytest.approx(3.0)  # entering a repeat still looks promising
    state, _ = graph.step(ROOT, 1)
    repeat = graph.moves(Match(state, match.completed))
    assert repeat.boosts[repeat.tokens.index(2)] == pytest.approx(3.0 - 6.0)
