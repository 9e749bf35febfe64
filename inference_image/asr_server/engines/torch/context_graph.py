"""Hotword biasing: a token prefix tree with Aho-Corasick failure links, walked during search.

As the context graphs of icefall, WeNet and sherpa: each hotword becomes the token sequences it
can be written as, inserted into a trie; a hypothesis carries a state (a trie node), and each
token it is extended by moves the state and earns a boost. Extending a partial match earns the
per-token score of the hotword; a token that breaks a partial match withdraws what the partial
match had earned (the state falls back, along the failure links, to the longest suffix of the
text that is still a partial match, whose earnings are granted instead); completing a hotword
banks its boost for good. A hypothesis that ends (end of text) inside a partial match loses
that match's earnings too, since the end-of-text token is not a hotword token. So a hypothesis
keeps boosts only for hotwords it actually contains, and beam search can afford to explore
them: that is what prompt-style hotwords cannot do.

A hypothesis earns each hotword once: completing one it has already completed takes back what
the repeat earned, so a repeat is worth what the model alone makes of it. Without that rule a
decoder that has the language model's freedom (unlike a transducer, held to the audio frame by
frame) buys boosts by repeating: at 6 per token whisper-tiny.en wrote "Dvorak Dvorak Dvorak
..." to the length limit (WER 3.3 on tests/support/rare_words.py, 0.56 at 4 per token).

Scores, per node `n`: `A(n)`, what the partial match ending at `n` has earned since the last
completed hotword on its path (its own token's score included); `P(n)`, what a hypothesis at
`n` would lose by breaking off now (0 at a hotword's end, else `A(n)`). Moving from `s` to `n`
earns `A(n) - P(s)`: the per-token score along a match, the withdrawal `-P(s)` (plus the
suffix's earnings) on a fall-back.

The request syntax (`parse_hotwords`): phrases separated by commas, semicolons or new lines,
each optionally followed by `:score`, its boost per token in log-probability units (natural
log), e.g. `Kubernetes:3, Dvořák, asrfleet`.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from asr_server.engines.base import EngineError

MAX_HOTWORDS = 256
MAX_PHRASE_CHARS = 100
MAX_SCORE = 10.0
"""A boost of 10 nats per token already overrides any acoustic evidence."""
DEFAULT_SCORE = 4.0
"""The boost of a hotword that names none: the best WER of 3/4/6/8 on tests/support/rare_words.py
(docs/models.md)."""
HOTWORD_MODES = ("decoder", "prompt", "both")
"""How hotwords steer the decoder: this graph, the prompt text (as faster-whisper's hotwords),
or both."""

_SEPARATORS = re.compile(r"[,;\n]")
_WEIGHT = re.compile(r"^(?P<phrase>.*?)\s*:\s*(?P<score>[^\s:]+)\s*$")


@dataclass(frozen=True)
class Hotword:
    phrase: str
    score: float | None = None
    """Boost per token; None takes the engine's default."""


def parse_hotwords(text: str | None) -> tuple[Hotword, ...]:
    """`Kubernetes:3, Dvořák` -> hotwords; EngineError (a client error) for a bad entry."""
    if not text or not text.strip():
        return ()
    hotwords = []
    for entry in _SEPARATORS.split(text):
        entry = entry.strip()
        if not entry:
            continue
        score = None
        weighted = _WEIGHT.match(entry)
        if weighted:
            entry = weighted.group("phrase").strip()
            try:
                score = float(weighted.group("score"))
            except ValueError:
                raise EngineError(f"hotword {entry!r} has a score that is not a number") from None
            if not math.isfinite(score) or not 0 < score <= MAX_SCORE:
                raise EngineError(f"hotword {entry!r}: the score must be in (0, {MAX_SCORE:g}]")
        if not entry:
            raise EngineError("a hotword entry has a score but no phrase")
        if len(entry) > MAX_PHRASE_CHARS:
            raise EngineError(f"hotword {entry[:20]!r}... is longer than {MAX_PHRASE_CHARS} chars")
        hotwords.append(Hotword(" ".join(entry.split()), score))
    if len(hotwords) > MAX_HOTWORDS:
        raise EngineError(f"{len(hotwords)} hotwords; at most {MAX_HOTWORDS} per request")
    return tuple(hotwords)


@dataclass(frozen=True)
class Match:
    """Where a hypothesis stands in the graph: its node and the hotwords (end nodes) it has
    completed."""

    node: int = 0
    completed: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Transitions:
    """From one state: the tokens that continue a partial match, where each leads and what it
    earns; every other token leads back to the root and earns `otherwise`."""

    tokens: tuple[int, ...]
    targets: tuple[int, ...]
    boosts: tuple[float, ...]
    otherwise: float


class ContextGraph:
    """The trie of hotword token sequences; states are node numbers, the root is 0."""

    ROOT = 0

    def __init__(self, sequences: Iterable[tuple[Sequence[int], float]]) -> None:
        """`sequences`: (token ids, boost per token); the higher score wins on shared nodes."""
        self._children: list[dict[int, int]] = [{}]
        self._score: list[float] = [0.0]
        self._end: list[bool] = [False]
        for tokens, score in sequences:
            self._insert(tokens, score)
        count = len(self._children)
        self._fail = [self.ROOT] * count
        self._goto: list[dict[int, int]] = [{} for _ in range(count)]
        self._earned = [0.0] * count  # A(n)
        self._pending = [0.0] * count  # P(n)
        self._link()
        self._transitions: dict[int, Transitions] = {}

    @property
    def size(self) -> int:
        """Nodes, the root included."""
        return len(self._children)

    def is_end(self, state: int) -> bool:
        return self._end[state]

    def pending(self, state: int) -> float:
        """What a hypothesis in `state` loses if its partial match breaks off."""
        return self._pending[state]

    def step(self, state: int, token: int) -> tuple[int, float]:
        """(next state, boost earned) for extending a hypothesis in `state` by `token`."""
        target = self._goto[state].get(token, self.ROOT)
        return target, self._earned[target] - self._pending[state]

    def advance(self, match: Match, token: int) -> tuple[Match, float]:
        """`step` for a hypothesis: a hotword it completes again earns nothing."""
        node, boost = self.step(match.node, token)
        if not self._end[node]:
            return Match(node, match.completed), boost
        if node in match.completed:
            return Match(node, match.completed), boost - self._earned[node]
        return Match(node, match.completed | {node}), boost

    def moves(self, match: Match) -> Transitions:
        """`transitions` for a hypothesis: repeats of its completed hotwords earn nothing."""
        moves = self.transitions(match.node)
        if not match.completed or not match.completed.intersection(moves.targets):
            return moves
        boosts = tuple(
            boost - self._earned[target] if target in match.completed else boost
            for target, boost in zip(moves.targets, moves.boosts, strict=True)
        )
        return Transitions(moves.tokens, moves.targets, boosts, moves.otherwise)

    def transitions(self, state: int) -> Transitions:
        """Everything `step` would return from `state`, for scoring a whole vocabulary."""
        cached = self._transitions.get(state)
        if cached is None:
            goto = self._goto[state]
            pending = self._pending[state]
            cached = Transitions(
                tokens=tuple(goto),
                targets=tuple(goto.values()),
                boosts=tuple(self._earned[t] - pending for t in goto.values()),
                otherwise=-pending,
            )
            self._transitions[state] = cached
        return cached

    def _insert(self, tokens: Sequence[int], score: float) -> None:
        if not tokens:
            return
        node = self.ROOT
        for token in tokens:
            child = self._children[node].get(token)
            if child is None:
                child = len(self._children)
                self._children[node][token] = child
                self._children.append({})
                self._score.append(score)
                self._end.append(False)
            else:
                self._score[child] = max(self._score[child], score)
            node = child
        self._end[node] = True

    def _link(self) -> None:
        """Failure links and the full goto function (breadth first, so a node's failure
        target, being shallower, is complete before the node)."""
        self._goto[self.ROOT] = dict(self._children[self.ROOT])
        queue = deque[int]()
        for child in self._children[self.ROOT].values():
            self._fail[child] = self.ROOT
            queue.append(child)
        while queue:
            node = queue.popleft()
            for token, child in self._children[node].items():
                target = self._goto[self._fail[node]].get(token, self.ROOT)
                self._fail[child] = target if target != child else self.ROOT
                queue.append(child)
            # A node goes where its failure target would, unless its own children say otherwise.
            self._goto[node] = {**self._goto[self._fail[node]], **self._children[node]}
        self._score_nodes()

    def _score_nodes(self) -> None:
        queue = deque([self.ROOT])
        while queue:
            node = queue.popleft()
            for child in self._children[node].values():
                self._earned[child] = self._pending[node] + self._score[child]
                self._pending[child] = 0.0 if self._end[child] else self._earned[child]
                queue.append(child)


def hotword_graph(
    hotwords: Sequence[Hotword], encode: Callable[[str], list[int]], default_score: float
) -> ContextGraph | None:
    """The graph of `hotwords` as Whisper writes them; None for no hotwords.

    Each phrase as given and with its first letter capitalised (a sentence's first word), after
    a space: Whisper starts every word of a space-separated script with one, the first of a
    segment included. A phrase in a script without case or spaces (Chinese, Japanese) is also
    written without the space, since it usually sits inside a run of text. (A cased phrase is
    not: its first token without the space, such as "K" of "Kubernetes", starts countless
    other words and would be boosted, if only in passing, at every step.)"""
    if not hotwords:
        return None
    sequences: dict[tuple[int, ...], float] = {}
    for hotword in hotwords:
        score = default_score if hotword.score is None else hotword.score
        phrase = hotword.phrase
        texts = {" " + phrase, " " + phrase[:1].upper() + phrase[1:]}
        if not _is_cased(phrase[0]):
            texts.add(phrase)
        for text in texts:
            tokens = tuple(encode(text))
            sequences[tokens] = max(score, sequences.get(tokens, 0.0))
    return ContextGraph(sequences.items())


def _is_cased(character: str) -> bool:
    return character.lower() != character.upper()
