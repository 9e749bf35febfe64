"""Decoding a batch of windows: beam search (greedy is a beam of one) or sampling, on the KV
cache of model.py, with hotword boosts from each row's context graph.

The search is CTranslate2's, so that at the same settings this engine finds what
faster-whisper finds: each step takes the best `2 * beam` continuations of a row's beams; of
the first `beam` of them, those that end the text (or reach the length limit) become finished
hypotheses and are replaced by the next unfinished candidates; a row is done once it has
`beam` finished hypotheses (patience 1), which are ranked by their total score over their
length in tokens (length penalty 1). A row's prompt is decoded in one call, and its beams are
only expanded after the first step, from the one sequence they share.

Scores: the search ranks by log-probability plus hotword boosts; what it reports
(`sum_logprob`, hence `avg_logprob` and the quality checks of the fallback) is the
model's log-probability alone, so biasing never hides a failed window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from asr_server.engines.torch.context_graph import ContextGraph, Match
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.rules import TokenRules


@dataclass(frozen=True)
class Search:
    """What every row of one decoding call shares (engines/fallback.DecodePass)."""

    beam_size: int = 1
    hypotheses: int = 1
    """Candidates returned per row, best first (at most the beam size when searching)."""
    temperature: float = 0.0
    """> 0 samples `hypotheses` sequences per row independently (beam_size is ignored), as
    CTranslate2 does."""
    patience: float = 1.0

    @property
    def sampling(self) -> bool:
        return self.temperature > 0

    @property
    def beams(self) -> int:
        """Sequences per row: the beam, or the independent samples."""
        return max(1, self.hypotheses if self.sampling else self.beam_size)


@dataclass(frozen=True)
class RowPrompt:
    tokens: Sequence[int]
    """The prompt: previous text and/or the start-of-transcript sequence."""
    sot_index: int
    """Position of `<|startoftranscript|>` in it (its logits give the no-speech probability)."""
    graph: ContextGraph | None = None
    """This row's hotwords."""


@dataclass(frozen=True)
class Decoded:
    tokens: list[int]
    """Without the end-of-text token."""
    sum_logprob: float
    """Model log-probability of the tokens and of the end of text (when reached)."""
    no_speech_prob: float
    score: float
    """What the search ranked by: (log-probability + boosts) / length."""

    @property
    def avg_logprob(self) -> float:
        """As faster-whisper reports it: the end of text counts as a token."""
        return self.sum_logprob / (len(self.tokens) + 1)


@dataclass
class _Beam:
    tokens: list[int]
    score: float
    """Log-probability plus boosts."""
    logprob: float
    state: Match = field(default_factory=Match)
    """Its place in its row's hotword graph."""
    done: bool = False
    """Sampling: this sequence has ended; it is fed on, ignored, until its row's others end."""


@dataclass
class _Row:
    prompt: RowPrompt
    beams: list[_Beam]
    finished: list[Decoded] = field(default_factory=list)
    no_speech_prob: float = 0.0


@dataclass
class _Candidate:
    parent: int
    """Index of the beam it extends, within its row."""
    token: int
    score: float
    logprob: float


def decode(
    model: Whisper,
    encoding: Tensor,
    prompts: Sequence[RowPrompt],
    rules: TokenRules,
    search: Search,
    no_speech_token: int,
    generator: torch.Generator | None = None,
) -> list[list[Decoded]]:
    """Decode each row of `encoding` (rows, frames, width) after its prompt: per row, up to
    `search.hypotheses` candidates, best first. All prompts have one length (the caller
    groups windows so)."""
    length = len(prompts[0].tokens)
    if any(len(p.tokens) != length for p in prompts):
        raise ValueError("every prompt of a decoding call must have the same length")
    decoder = model.decoder
    device = encoding.device
    cache = decoder.start(encoding)
    hidden = decoder(torch.tensor([list(p.tokens) for p in prompts], device=device), cache)
    sot = prompts[0].sot_index
    positions = [sot, length - 1] if sot != length - 1 else [length - 1]
    logits = decoder.logits(hidden[:, positions])
    no_speech = torch.softmax(logits[:, 0], dim=-1)[:, no_speech_token].tolist()
    logits = logits[:, -1]
    rows = [
        _Row(prompt, [_Beam([], 0.0, 0.0)], no_speech_prob=float(p))
        for prompt, p in zip(prompts, no_speech, strict=True)
    ]
    alive = list(range(len(rows)))
    # CTranslate2's limit: half the context, and no position beyond it (the last token is
    # produced, never fed back).
    context = decoder.positional_embedding.shape[0]
    max_steps = min(context // 2, context - length + 1)
    for step in range(max_steps):
        sequences = [beam.tokens for index in alive for beam in rows[index].beams]
        log_probs = rules.log_probs(logits, sequences)
        boosted = log_probs + _boosts(rows, alive, log_probs)
        last_step = step == max_steps - 1
        if search.sampling:
            chosen = _sample(rows, alive, log_probs, boosted, search, generator)
        else:
            chosen = _best(rows, alive, log_probs, boosted, search.beams)
        parents: list[int] = []
        next_tokens: list[int] = []
        still_alive: list[int] = []
        offset = 0
        for index, candidates in zip(alive, chosen, strict=True):
            row = rows[index]
            width = len(row.beams)
            if search.sampling:
                kept = _advance_samples(row, candidates, rules.special.eot, last_step)
            else:
                kept = _advance(row, candidates, search.beams, rules.special.eot, last_step)
            if not _row_done(row, search, kept, last_step):
                still_alive.append(index)
                parents.extend(offset + c.parent for c in kept)
                next_tokens.extend(c.token for c in kept)
            offset += width
        if not still_alive:
            break
        if len(still_alive) != len(alive):
            row_positions = [alive.index(index) for index in still_alive]
            cache.keep_rows(torch.tensor(row_positions, device=device))
        # `offset` sequences are cached: the kept ones may be fewer (rows done) even when
        # they keep their order.
        if parents != list(range(offset)):
            cache.reorder(torch.tensor(parents, device=device))
        cache.beams = len(rows[still_alive[0]].beams)
        alive = still_alive
        hidden = decoder(torch.tensor(next_tokens, device=device)[:, None], cache)
        logits = decoder.logits(hidden[:, -1])
    return [
        sorted(row.finished, key=lambda d: d.score, reverse=True)[: search.hypotheses]
        for row in rows
    ]


def _row_done(row: _Row, search: Search, kept: list[_Candidate], last_step: bool) -> bool:
    if last_step or not kept:
        return True
    if search.sampling:
        return all(beam.done for beam in row.beams)
    return len(row.finished) >= max(1, round(search.beams * search.patience))


def detect_language(
    model: Whisper, encoding: Tensor, sot: int, language_tokens: Sequence[int]
) -> list[list[tuple[int, float]]]:
    """Per row of `encoding`: (language token, probability) from best to worst, from the
    decoder's prediction after `<|startoftranscript|>` restricted to language tokens."""
    decoder = model.decoder
    cache = decoder.start(encoding)
    tokens = torch.full((encoding.shape[0], 1), sot, device=encoding.device)
    logits = decoder.logits(decoder(tokens, cache)[:, -1])
    probabilities = torch.softmax(logits[:, list(language_tokens)], dim=-1)
    ranked = []
    for row in probabilities.tolist():
        pairs = sorted(zip(language_tokens, row, strict=True), key=lambda p: -p[1])
        ranked.append([(int(token), float(p)) for token, p in pairs])
    return ranked


def _boosts(rows: list[_Row], alive: list[int], log_probs: Tensor) -> Tensor | float:
    """Each hypothesis's hotword boost for every next token (0 for rows without hotwords)."""
    if all(rows[i].prompt.graph is None for i in alive):
        return 0.0
    otherwise: list[float] = []
    hyp_index: list[int] = []
    token_index: list[int] = []
    values: list[float] = []
    for index in alive:
        graph = rows[index].prompt.graph
        for beam in rows[index].beams:
            if graph is None:
                otherwise.append(0.0)
            else:
                moves = graph.moves(beam.state)
                otherwise.append(moves.otherwise)
                hyp_index.extend([len(otherwise) - 1] * len(moves.tokens))
                token_index.extend(moves.tokens)
                values.extend(moves.boosts)
    device = log_probs.device
    boosts = torch.tensor(otherwise, device=device)[:, None].expand_as(log_probs).clone()
    if values:
        boosts[torch.tensor(hyp_index, device=device), torch.tensor(token_index, device=device)] = (
            torch.tensor(values, device=device)
        )
    return boosts


def _best(
    rows: list[_Row], alive: list[int], log_probs: Tensor, boosted: Tensor, beams: int
) -> list[list[_Candidate]]:
    """The `2 * beams` best continuations of each row, best first."""
    vocab = log_probs.shape[-1]
    width = len(rows[alive[0]].beams)
    scores = torch.tensor(
        [beam.score for i in alive for beam in rows[i].beams], device=log_probs.device
    )
    totals = (boosted + scores[:, None]).view(len(alive), width * vocab)
    top_scores, top_ids = totals.topk(min(2 * beams, width * vocab), dim=-1)
    top_logprobs = log_probs.view(len(alive), width * vocab).gather(1, top_ids)
    chosen = []
    for row_number, index in enumerate(alive):
        row = rows[index]
        candidates = []
        for score, flat, logprob in zip(
            top_scores[row_number].tolist(),
            top_ids[row_number].tolist(),
            top_logprobs[row_number].tolist(),
            strict=True,
        ):
            parent, token = divmod(flat, vocab)
            candidates.append(_Candidate(parent, token, score, row.beams[parent].logprob + logprob))
        chosen.append(candidates)
    return chosen


def _sample(
    rows: list[_Row],
    alive: list[int],
    log_probs: Tensor,
    boosted: Tensor,
    search: Search,
    generator: torch.Generator | None,
) -> list[list[_Candidate]]:
    """One sampled continuation per sequence from softmax(boosted / temperature); a row's first
    step draws all of its `search.beams` sequences from its one distribution."""
    width = len(rows[alive[0]].beams)
    draws = search.beams if width == 1 else 1
    probabilities = torch.softmax(boosted / search.temperature, dim=-1)
    tokens = torch.multinomial(probabilities, draws, replacement=True, generator=generator)
    picked_boosted = boosted.gather(1, tokens).tolist()
    picked = log_probs.gather(1, tokens).tolist()
    tokens_list = tokens.tolist()
    chosen = []
    for row_number, index in enumerate(alive):
        candidates = []
        for k in range(search.beams):
            sequence, draw = (row_number, k) if width == 1 else (row_number * width + k, 0)
            parent = 0 if width == 1 else k
            beam = rows[index].beams[parent]
            candidates.append(
                _Candidate(
                    parent,
                    int(tokens_list[sequence][draw]),
                    beam.score + picked_boosted[sequence][draw],
                    beam.logprob + picked[sequence][draw],
                )
            )
        chosen.append(candidates)
    return chosen


def _advance_samples(
    row: _Row, candidates: list[_Candidate], eot: int, last_step: bool
) -> list[_Candidate]:
    """Move each sampled sequence on; one that ends is registered and then only fed on."""
    new_beams = []
    for candidate in candidates:
        parent = row.beams[candidate.parent]
        if parent.done:
            new_beams.append(parent)
            continue
        if candidate.token == eot or last_step:
            row.finished.append(_finish(row, candidate, eot))
            new_beams.append(dataclasses.replace(parent, done=True))
            continue
        graph = row.prompt.graph
        state = parent.state if graph is None else graph.advance(parent.state, candidate.token)[0]
        tokens = [*parent.tokens, candidate.token]
        new_beams.append(_Beam(tokens, candidate.score, candidate.logprob, state))
    row.beams = new_beams
    return [
        dataclasses.replace(c, token=eot if beam.done else c.token)
        for c, beam in zip(candidates, new_beams, strict=True)
    ]


def _advance(
    row: _Row, candidates: list[_Candidate], beams: int, eot: int, last_step: bool
) -> list[_Candidate]:
    """Register the row's finished hypotheses among its first `beams` candidates, replacing
    each by the next unfinished one, and move its beams on; returns the candidates kept."""
    kept: list[_Candidate] = []
    spare = beams
    for rank in range(min(beams, len(candidates))):
        candidate = candidates[rank]
        if candidate.token == eot or last_step:
            row.finished.append(_finish(row, candidate, eot))
            while spare < len(candidates) and candidates[spare].token == eot:
                spare += 1
            if spare == len(candidates):
                continue
            candidate = candidates[spare]
            spare += 1
        kept.append(candidate)
    graph = row.prompt.graph
    new_beams = []
    for candidate in kept:
        parent = row.beams[candidate.parent]
        state = parent.state if graph is None else graph.advance(parent.state, candidate.token)[0]
        tokens = [*parent.tokens, candidate.token]
        new_beams.append(_Beam(tokens, candidate.score, candidate.logprob, state))
    row.beams = new_beams
    return kept


def _finish(row: _Row, candidate: _Candidate, eot: int) -> Decoded:
    parent = row.beams[candidate.parent]
    score = candidate.score
    if candidate.token == eot:
        tokens = parent.tokens  # the end of text's boost already withdrew any partial match
    else:  # cut off at the length limit
        tokens = [*parent.tokens, candidate.token]
        graph = row.prompt.graph
        if graph is not None:
            score -= graph.pending(graph.advance(parent.state, candidate.token)[0].node)
    return Decoded(tokens, candidate.logprob, row.no_speech_prob, score / max(1, len(tokens)))
