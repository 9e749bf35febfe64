"""Cross-request batch collection and the admission/batching settings for it.

`PendingQueue` holds admitted requests in order. A decode worker takes the first request,
then every queued request with the same decoding settings (`batch_settings`: every
`TranscribeOptions` field but the prompt text, so a batch never mixes decoding settings), up to
`max_batch_size`, waiting at most `max_wait_s` for more compatible requests to arrive.
Requests with other settings stay queued, in order, for the next worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import deque
from dataclasses import dataclass, field

from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine, BatchSizing, Progress
from asr_server.engines.hardware import container_cpu_limit
from asr_server.types import Audio, TranscribeOptions, Transcription

GPU_CONCURRENCY = 2
BACKGROUND_MAX_BATCH = 1
"""Most background items (streams' partials) per batch. On CPU a batch costs about the sum
of its items, and a decode in its thread cannot be stopped, so a stream's final that arrives
while a batch of partials runs waits for all of it: small background batches bound that wait
to one partial decode (bench/streaming.py, N=4: p95 final 8.6-9.3 s -> 6.8 s)."""


def batch_settings(options: TranscribeOptions) -> TranscribeOptions:
    """What the requests of one batch share: every option but the initial prompt and the
    hotwords. Those are tokens of each row's own prompt (engines/prompts.py), so requests that
    differ only in them still share a batch: live streams, each prompted with its own
    previous text, above all."""
    return dataclasses.replace(options, prompt=None, hotwords=None)


@dataclass(frozen=True)
class BatchSettings:
    """Resolved admission/batching settings (config zeros replaced by device defaults)."""

    concurrency: int
    """Decode workers: batches decoded at the same time."""
    max_batch_size: int
    max_wait_s: float
    device: str
    cpu_limit: float


def resolve_settings(config: ServerConfig, engine: ASREngine) -> BatchSettings:
    """Fill the zeros in config for the loaded engine: on CPU one decode worker per 4 CPUs of
    the container's limit (each batch already uses every core through the engine's threads),
    on GPU 2 workers; the batch size is the engine's (BatchSizing: Whisper's is 4 on 2 CPUs,
    where batches of ~4 gave the best throughput, and 16 on a GPU), else ASR_BATCH_MAX_SIZE
    or one request at a time."""
    cpus = container_cpu_limit()
    device = engine.info.device
    on_gpu = device.startswith("cuda")
    concurrency = config.max_concurrency or (
        GPU_CONCURRENCY if on_gpu else max(1, math.floor(cpus / 4))
    )
    if isinstance(engine, BatchSizing):
        max_batch_size = engine.max_batch_size()
    else:
        max_batch_size = config.batch_max_size or 1
    return BatchSettings(
        concurrency=concurrency,
        max_batch_size=max_batch_size,
        max_wait_s=config.batch_max_wait_ms / 1000.0,
        device=device,
        cpu_limit=cpus,
    )


@dataclass(eq=False)
class PendingRequest:
    """One admitted request waiting for (or in) a decode."""

    audio: Audio
    options: TranscribeOptions
    future: asyncio.Future[Transcription]
    enqueued_at: float = field(default_factory=time.monotonic)
    background: bool = False
    """Best-effort work (a stream's partial result): served after all other queued work."""
    since: float | None = None
    """When the work became due (monotonic clock), if before it was enqueued: for a stream's
    decode, the moment the audio it needs had arrived."""
    progress: Progress | None = None
    """Told how far the decode has got, when the engine can say (engines/base.ReportsProgress)."""
    abandoned: str = "cancelled"
    """Why, if it is not decoded: `cancelled` (its requester gave up: an HTTP client that
    disconnected, a stream that ended or no longer needs the decode) unless the scheduler saw
    its deadline pass (`deadline`)."""
    settings: TranscribeOptions = field(init=False)
    """batch_settings(options), derived once: compared with every batch taken while it waits."""

    def __post_init__(self) -> None:
        self.settings = batch_settings(self.options)

    @property
    def due(self) -> float:
        """What foreground work is ordered by, oldest first."""
        return self.enqueued_at if self.since is None else min(self.since, self.enqueued_at)


class PendingQueue:
    """Admitted requests with batch collection. Event-loop only.

    Foreground work is ordered by `due`, so a request arriving now queues behind everything
    already waiting (first in, first out), while a stream's final that has waited since its
    speaker stopped (for its stream's decode slot, or as a retry after a failed first pass)
    goes ahead of work that became due later. Background work follows, in
    arrival order."""

    def __init__(self) -> None:
        self._items: deque[PendingRequest] = deque()
        self._arrived = asyncio.Event()
        self.idle_takers = 0
        """Workers blocked waiting for the queue to become non-empty."""

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: PendingRequest) -> None:
        if item.background:
            self._items.append(item)
        else:  # behind the foreground work due no later, ahead of the rest
            position = next(
                (i for i, q in enumerate(self._items) if q.background or q.due > item.due),
                len(self._items),
            )
            self._items.insert(position, item)
        self._arrived.set()

    def discard(self, item: PendingRequest) -> bool:
        """Remove a request that gave up (timeout, disconnect); False if already taken."""
        try:
            self._items.remove(item)
        except ValueError:
            return False
        return True

    def drain(self) -> list[PendingRequest]:
        items = list(self._items)
        self._items.clear()
        return items

    async def take_batch(self, max_size: int, max_wait_s: float) -> list[PendingRequest]:
        """The oldest request plus compatible ones (see module docstring)."""
        while not self._items:
            self._arrived.clear()
            self.idle_takers += 1
            try:
                await self._arrived.wait()
            finally:
                self.idle_takers -= 1
        batch = [self._items.popleft()]
        if batch[0].background:
            max_size = min(max_size, BACKGROUND_MAX_BATCH)
        self._take_compatible(batch, max_size)
        deadline = time.monotonic() + max_wait_s
        while len(batch) < max_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
            self._take_compatible(batch, max_size)
        return batch

    def _take_compatible(self, batch: list[PendingRequest], max_size: int) -> None:
        settings, background = batch[0].settings, batch[0].background
        kept: deque[PendingRequest] = deque()
        while self._items:
            item = self._items.popleft()
            # Background work never rides in a foreground batch: on CPU a batch costs about
            # the sum of its items, so it would delay the foreground results.
            if (
                len(batch) < max_size
                and item.settings == settings
                and item.background == background
            ):
                batch.append(item)
            else:
                kept.append(item)
        self._items = kept
