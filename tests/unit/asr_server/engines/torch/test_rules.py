"""Whisper's token rules as the torch engine applies them (CTranslate2's and openai-whisper's
timestamp rules), on a miniature vocabulary (support/tiny_whisper.py)."""

from __future__ import annotations

import torch
from support.tiny_whisper import (
    EOT,
    NO_SPEECH,
    NO_TIMESTAMPS,
    SOT,
    TIMESTAMP_BEGIN,
    VOCAB,
    tiny_rules,
)

TS = TIMESTAMP_BEGIN


def text_likely(rows: int = 1) -> torch.Tensor:
    """Logits under which each text token beats all timestamps together (nothing forced)."""
    logits = torch.zeros(rows, VOCAB)
    logits[:, :TS] = 5.0
    return logits


def allowed(sequence: list[int], logits: torch.Tensor | None = None) -> set[int]:
    logits = text_likely() if logits is None else logits
    log_probs = tiny_rules().log_probs(logits, [sequence])
    assert torch.allclose(log_probs.exp().sum(), torch.tensor(1.0))
    return {int(i) for i in torch.nonzero(log_probs[0] > -torch.inf)}


def test_first_step_is_an_early_timestamp() -> None:
    assert allowed([]) == set(range(TS, TS + 6))  # max_initial_timestamp_index=5


def test_after_text_timestamps_may_not_go_back() -> None:
    after = allowed([TS + 2, 7])
    assert set(range(TS + 3, VOCAB)) <= after and not after & set(range(TS, TS + 3))
    assert {7, EOT} <= after
    assert not after & {SOT, NO_SPEECH, NO_TIMESTAMPS}


def test_a_closing_timestamp_is_followed_by_its_pair_or_the_end() -> None:
    after = allowed([TS + 2, 7, TS + 5])
    assert after == {EOT} | set(range(TS + 5, VOCAB))


def test_after_a_timestamp_pair_comes_text() -> None:
    after = allowed([TS + 2, 7, TS + 5, TS + 5])
    assert not after & set(range(TS, VOCAB)) and {0, 7, EOT} <= after


def test_a_timestamp_is_forced_when_timestamps_together_beat_any_text() -> None:
    logits = torch.zeros(1, VOCAB)
    logits[0, TS:] = 1.0  # each timestamp a little likelier than each text token
    assert allowed([TS, 7], logits) == set(range(TS + 1, VOCAB))
    logits[0, 3] = 10.0  # one text token far likelier than all timestamps together
    assert 3 in allowed([TS, 7], logits)


def test_rows_follow_their_own_sequences() -> None:
    rules = tiny_rules()
    log_probs = rules.log_probs(text_likely(2), [[TS + 2, 7, TS + 5], [TS, 3]])
    assert bool(log_probs[0, 3] == -torch.inf) and bool(log_probs[1, 3] > -torch.inf)
