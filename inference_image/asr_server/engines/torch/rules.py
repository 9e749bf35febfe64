"""Which tokens Whisper may produce next: suppressed tokens and the timestamp rules.

The rules CTranslate2's Whisper `generate` applies (and openai-whisper's decoder before it), so
both engines decode alike:
- always: the suppressed tokens (faster-whisper's default set) and `<|notimestamps|>`;
- first step: no blank and no end of text (`suppress_blank`), no text at all (a segment
  starts with a timestamp) and no timestamp beyond `max_initial_timestamp_index`;
- later: timestamps come in pairs except right before the end of text; a timestamp after a
  text token must not go back in time; and when the timestamps together are more probable
  than any single text token, a timestamp is forced.
`log_probs` applies them to a batch of logits, one row per hypothesis, as masks built in a few
vectorised operations (no per-token Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SpecialTokens:
    """The ids the rules need (from the tokenizer)."""

    eot: int
    no_timestamps: int
    timestamp_begin: int
    vocab_size: int

    @property
    def timestamp_end(self) -> int:
        return self.vocab_size - 1


class TokenRules:
    def __init__(
        self,
        special: SpecialTokens,
        suppress: Sequence[int],
        suppress_at_start: Sequence[int],
        max_initial_timestamp_index: int = 50,
        device: torch.device | str = "cpu",
    ) -> None:
        self.special = special
        vocab = special.vocab_size
        self.ids = torch.arange(vocab, device=device)
        self.always = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.always[list(suppress)] = True
        self.always[special.no_timestamps] = True
        self.first = self.always.clone()
        self.first[list(suppress_at_start)] = True
        self.first[: special.timestamp_begin] = True
        self.first[special.timestamp_begin + max_initial_timestamp_index + 1 :] = True
        self.text = self.ids < special.eot
        """Text tokens (what a timestamp that opens a segment's end cannot be followed by)."""

    def log_probs(self, logits: Tensor, sequences: Sequence[Sequence[int]]) -> Tensor:
        """Log-probabilities (float32) of the next token of each hypothesis: `logits` row i
        follows `sequences[i]`, the tokens it has produced so far (prompt excluded)."""
        if not sequences[0]:  # every row is at the same step
            return torch.log_softmax(logits.masked_fill(self.first, -torch.inf), dim=-1)
        begin = self.special.timestamp_begin
        block_text, low, high, check = [], [], [], []
        for tokens in sequences:
            last = tokens[-1]
            low_bound, high_bound, blocked, checked = begin, begin - 1, False, True
            if last >= begin:
                penultimate = tokens[-2] if len(tokens) > 1 else last
                if penultimate >= begin:  # a pair just closed: text or end of text next
                    high_bound, checked = self.special.timestamp_end, False
                else:  # a segment's end: its pair, or the end of text
                    blocked, high_bound = True, last - 1
            else:  # timestamps must not decrease
                previous = next((t for t in reversed(tokens) if t >= begin), None)
                if previous is not None:
                    high_bound = previous
            block_text.append(blocked)
            low.append(low_bound)
            high.append(high_bound)
            check.append(checked)
        device = logits.device
        ids = self.ids[None, :]
        mask = self.always[None, :] | (
            (ids >= torch.tensor(low, device=device)[:, None])
            & (ids <= torch.tensor(high, device=device)[:, None])
        )
        mask |= torch.tensor(block_text, device=device)[:, None] & self.text[None, :]
        logits = logits.masked_fill(mask, -torch.inf)
        checked_rows = torch.tensor(check, device=device)
        if bool(checked_rows.any()):
            log_probs = torch.log_softmax(logits, dim=-1)
            timestamp = torch.logsumexp(log_probs[:, begin:], dim=-1)
            best_text = log_probs[:, :begin].max(dim=-1).values
            forced = checked_rows & (timestamp > best_text)
            if bool(forced.any()):
                logits[forced, :begin] = -torch.inf
        return torch.log_softmax(logits, dim=-1)
