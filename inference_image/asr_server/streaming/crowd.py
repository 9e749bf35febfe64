"""What the open streams of one server share to pace their partials."""

from __future__ import annotations


class FirstPartials:
    """The streams whose open utterance has not shown a partial yet.

    A later partial only refreshes text the speaker already sees; the first one of an
    utterance tells them they are heard (and is what the latency target measures). So while
    another stream awaits its first partial, a stream holds its later ones back: the decoder
    is then free for first partials and finals, and the held partial starts once none waits.
    """

    def __init__(self) -> None:
        self._waiting: set[object] = set()

    def waiting(self, stream: object) -> None:
        self._waiting.add(stream)

    def done(self, stream: object) -> None:
        self._waiting.discard(stream)

    def others_waiting(self, stream: object) -> bool:
        return bool(self._waiting - {stream}) if stream in self._waiting else bool(self._waiting)
