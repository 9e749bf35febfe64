"""What the open streams of one server share to pace their partials."""

from __future__ import annotations


def rest_after_partial(took: float, open_streams: int, shown_before: bool) -> float:
    """Seconds a stream rests after a partial that took `took` (queueing included).

    In proportion to that time and to the open streams, (2 x streams - 1) x took: the partials
    of all streams together then use at most about half of the decode time, whatever their
    number, so finals find the server free under load. A lone stream rests as long as its
    partial took, and so does one whose first partial has not been shown yet (`shown_before`
    False: it came back empty or overran), since the first partial must stay fast."""
    crowd = 2 * max(1, open_streams) - 1 if shown_before else 1
    return took * crowd


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
