"""What the controller keeps between reconciles: one Context per operator process."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from asrfleet_operator.events import EventPoster
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.settings import Settings

Key = tuple[str, str]
"""(namespace, name) of a SpeechRecognizer."""


@dataclass
class Context:
    """Settings, the API client and the bookkeeping every trigger (a SpeechRecognizer event,
    the resync sweep, a Deployment event) shares. All of it is a cache of the API: a restart
    loses nothing but the work it saves."""

    settings: Settings
    client: KubeClient
    warned: dict[Key, tuple[str, str, Any]] = field(default_factory=dict)
    """The last problem warned about, with its generation: an event-triggered reconcile and
    the sweep can both hold a status read before the first warning was recorded."""
    newest: dict[Key, int] = field(default_factory=dict)
    """Newest metadata.generation reconciled: a sweep holding an older copy than a concurrent
    event-triggered reconcile must not write stale children or status."""
    absent: set[tuple[str, str, str]] = field(default_factory=set)
    """(namespace, name, plural) of optional children confirmed absent (not wanted, not there):
    no GET per reconcile for kinds a SpeechRecognizer does not use."""
    seen: set[str | None] = field(default_factory=set)
    """uids of the SpeechRecognizers and SpeechModels reconciled at least once by this process
    (changes.py)."""
    model_locks: defaultdict[Key, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )
    """One lock per SpeechModel: its event, its Job's events and the sweep reconcile it one at a
    time (each reads it afresh), so a state change is reported and announced once."""
    events: EventPoster = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventPoster(self.client)

    def is_stale(self, key: Key, generation: Any) -> bool:
        """True if a newer generation of `key` was reconciled; else record this one."""
        if not isinstance(generation, int):
            return False
        if generation < self.newest.get(key, 0):
            return True
        self.newest[key] = generation
        return False
