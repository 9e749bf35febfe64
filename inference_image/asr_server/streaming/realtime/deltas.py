"""Partial text as OpenAI transcript deltas, which must add up to the completed transcript.

A stream's partial replaces the previous one and may revise it ("like your country" -> "what
your country can do"); a delta cannot be taken back. So a token (a word with the space before
it, or one CJK character) is sent only once `agreement` consecutive partials of the utterance
agree on it and on everything before it (local agreement of n hypotheses, as whisper_streaming's
LocalAgreement-2 does with two), and only where it is not among the last EDGE_TOKENS of any of
those partials: each partial decodes more audio, and its last words sit at the edge of what
it decoded (a word cut short, a guess the next words correct). Recorded with tiny.en on jfk,
two partials agreed on "like" (the final: "what") and on "As" ("Ask"); with the edge rule
`low` (two partials) no longer sends "like". The final then closes the item: its text after
the part already sent is the last delta, and the completed transcript is exactly the deltas
joined. When the final disagrees with what was sent (rare: the agreed prefix was wrong), the
sent text stays and the final's words after the point the sent text aligns to follow it;
`revised` records that it happened.
"""

from __future__ import annotations

import difflib
import re
from collections import deque

_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"\s*(?:[{_CJK}]|[^\s{_CJK}]+)")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
EDGE_TOKENS = 2
"""A partial's last tokens, never agreed on (the module doc; 1 let "like" through on jfk)."""


def tokens(text: str) -> list[str]:
    """`text` split so that the pieces joined give it back (trailing space aside)."""
    return _TOKEN.findall(text)


def _key(token: str) -> str:
    """What two tokens must share to be the same word: case and punctuation aside."""
    return _NOT_WORD.sub("", token).lower()


class StableText:
    """The deltas of one utterance: `partial()` for each partial, `final()` once."""

    def __init__(self, agreement: int | None = 3, lead: str = "") -> None:
        self._agreement = agreement
        """Consecutive partials that must agree on a token; None: deltas from the final only."""
        self._lead = lead
        """Put before the first delta (" " for the second utterance of one item)."""
        self.sent: list[str] = []
        self._recent: deque[list[str]] = deque(maxlen=agreement or 1)
        self.revised = False
        """The final disagreed with text already sent (which stays, see the module doc)."""

    @property
    def sent_text(self) -> str:
        return "".join(self.sent)

    def partial(self, text: str) -> str:
        """The delta this partial makes stable ("" when none)."""
        if self._agreement is None:
            return ""
        current = tokens(text.strip())
        self._recent.append(current)
        if len(self._recent) < (self._agreement or 1):
            return ""
        agreed = 0
        inner = [partial[: max(len(partial) - EDGE_TOKENS, 0)] for partial in self._recent]
        for column in zip(*inner, strict=False):
            if len({token.strip() for token in column}) > 1:
                break
            agreed += 1
        done = len(self.sent)
        if agreed <= done or [t.strip() for t in current[:done]] != [t.strip() for t in self.sent]:
            return ""
        new = current[done:agreed]
        self.sent.extend(new)
        return self._delta("".join(new), first=done == 0)

    def final(self, text: str) -> tuple[str, str]:
        """(the last delta, the completed transcript = every delta joined)."""
        final = tokens(text.strip())
        if not self.sent:
            whole = self._delta("".join(final), first=True)
            return whole, whole
        sent_keys, final_keys = [_key(t) for t in self.sent], [_key(t) for t in final]
        cut = _aligned_end(sent_keys, final_keys)
        self.revised = final_keys[: len(sent_keys)] != sent_keys
        rest = "".join(final[cut:])
        return rest, self._lead + self.sent_text.lstrip() + rest

    def _delta(self, text: str, *, first: bool) -> str:
        return self._lead + text.lstrip() if first and text.strip() else text


def _aligned_end(sent: list[str], final: list[str]) -> int:
    """Where in `final` the text already sent ends: after its last word that the final also
    has (and as many more words as the sent text has after that one)."""
    if final[: len(sent)] == sent:
        return len(sent)
    matcher = difflib.SequenceMatcher(None, sent, final, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return min(len(sent), len(final))
    last = blocks[-1]
    unmatched = len(sent) - (last.a + last.size)
    return min(last.b + last.size + unmatched, len(final))
