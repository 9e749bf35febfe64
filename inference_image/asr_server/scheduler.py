"""Admission control and batched decoding: the one way work reaches the engine.

Public API (the data plane, `dataplane.py`, is its one caller: every transport goes through it)::

    transcription = await scheduler.submit(audio, options)

`audio` is 16 kHz mono float32 (`asr_server.types`), `options` a `TranscribeOptions`.
`submit` raises, all `asr_server.errors`:

- `NotReady`: the model is not loaded yet (or the scheduler is stopped);
- `Draining`: the server is shutting down and takes no new work;
- `QueueFull`: every worker is busy and `max_queue` requests already wait; `.retry_after`
  (seconds) is estimated from recent decode times;
- `RequestTimeout`: no result within `request_timeout_s` (waiting plus decoding; None: no
  limit, the CLI's offline work). A decode
  already running in its thread finishes and its result is discarded, so the worker is free
  again afterwards;
- `BadRequest` (code `engine_error`): the engine rejected this item (other items of the same
  batch are unaffected).

Requests are served oldest due first (HTTP requests first in, first out; a live stream's final
is due from its end of speech; stream partials last) by `settings.concurrency` decode workers;
each worker takes the first request plus queued requests with the same decoding settings (up
to `max_batch_size`, waiting at most `max_wait_s`; see `batching.py`) and decodes them with ONE
`engine.transcribe_batch` call in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

from asr_server import errors
from asr_server.batching import BatchSettings, PendingQueue, PendingRequest
from asr_server.engines.base import ASREngine, EngineError, Progress, ReportsProgress
from asr_server.metrics import Metrics
from asr_server.types import Audio, TranscribeOptions, Transcription

log = logging.getLogger("asr_server.scheduler")

BatchResult = list[Transcription | EngineError]
"""What one engine call returns: a result or the item's own error, slot for slot."""

DEADLINE = "deadline"
"""asr_cancelled_requests_total's reason for work whose request_timeout_s passed."""
_EWMA_WEIGHT = 0.3
"""Weight of the newest batch in the decode-time estimate behind Retry-After."""


class Scheduler:
    def __init__(
        self,
        engine: ASREngine,
        *,
        max_queue: int,
        request_timeout_s: float | None,
        metrics: Metrics,
    ) -> None:
        self.engine = engine
        self.max_queue = max_queue
        self.request_timeout_s = request_timeout_s
        self.metrics = metrics
        self.settings: BatchSettings | None = None
        self._queue: PendingQueue | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._draining = False
        self._decoding = 0
        self._batch_seconds = 1.0
        """Recent seconds per batch decode (EWMA), for Retry-After and the admission estimate."""
        self._batches_timed = 0

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.settings is not None

    def start(self, settings: BatchSettings) -> None:
        """Start the decode workers (call from the event loop, once the engine is loaded)."""
        if self.started:
            return
        self.settings = settings
        self._queue = PendingQueue()
        self._executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="asr-decode")
        self._workers = [
            asyncio.create_task(self._work(), name=f"asr-decode-worker-{i}")
            for i in range(settings.concurrency)
        ]
        log.info(
            "scheduler started",
            extra={
                "concurrency": settings.concurrency,
                "max_batch_size": settings.max_batch_size,
                "max_wait_ms": settings.max_wait_s * 1000,
                "max_queue": self.max_queue,
            },
        )

    async def stop(self) -> None:
        """Stop the workers; requests still queued get `Draining`."""
        self._draining = True
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._queue is not None:
            for item in self._queue.drain():
                _fail(item, errors.Draining("the server is shutting down"))
            self.metrics.queue_depth.set(0)
        if self._executor is not None:
            # Never wait for a decode stuck in its thread: shutdown must not hang.
            self._executor.shutdown(wait=False, cancel_futures=True)

    def begin_drain(self) -> None:
        """Refuse new work from now on; admitted requests still finish."""
        self._draining = True

    # -- state ----------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def queue_depth(self) -> int:
        return len(self._queue) if self._queue is not None else 0

    @property
    def decoding(self) -> int:
        """Requests inside a running engine call."""
        return self._decoding

    @property
    def saturated(self) -> bool:
        """True when the queue is full (the next request gets 429; see also `refusing`)."""
        if self._queue is None:
            return False
        return len(self._queue) >= self.max_queue + self._queue.idle_takers

    def retry_after(self) -> int:
        """Whole seconds until a queued request would likely start: batches ahead of it
        times the recent batch decode time, at least 1."""
        assert self.settings is not None
        per_round = self.settings.concurrency * self.settings.max_batch_size
        rounds = math.ceil((self.queue_depth + 1) / per_round)
        return max(1, math.ceil(rounds * self._batch_seconds))

    def expected_seconds(self) -> float | None:
        """Rough seconds from now to the result of work admitted now (the rounds of batches
        ahead of it and its own, half a round more while one decodes), or None while the
        server is idle or no decode has been timed yet."""
        assert self.settings is not None
        if not self._batches_timed or not (self.queue_depth or self._decoding):
            return None
        per_round = self.settings.concurrency * self.settings.max_batch_size
        rounds = math.ceil((self.queue_depth + 1) / per_round) + (0.5 if self._decoding else 0)
        return rounds * self._batch_seconds

    def _too_late(self) -> float | None:
        """The expected seconds to a result when they exceed request_timeout_s, else None."""
        if not self.request_timeout_s or self.settings is None:
            return None
        expected = self.expected_seconds()
        return expected if expected is not None and expected > self.request_timeout_s else None

    @property
    def refusing(self) -> bool:
        """True when the next request would get 429: the queue is full, or its result would
        come after request_timeout_s (`asr_saturated`)."""
        return self.saturated or self._too_late() is not None

    def check_admission(self, *, finishing: bool = False) -> None:
        """Raise what `submit` would refuse with now: Draining (unless `finishing`), NotReady
        or QueueFull: the queue full, or (`request_timeout_s` set) work ahead that would
        make this one's result later than its timeout: admitted, it would only cost a
        decode and end in a 504. An idle server admits everything. Routes call it before
        decoding audio that would be refused anyway."""
        if self._draining and not finishing:
            raise errors.Draining("the server is shutting down; retry on another replica")
        if self._queue is None or not self.engine.ready:
            raise errors.NotReady("the model is still loading")
        if self.saturated:
            seconds = self.retry_after()
            raise errors.QueueFull(
                f"server busy: {self.queue_depth} requests queued; retry in {seconds} s",
                retry_after=seconds,
            )
        expected = None if finishing else self._too_late()
        if expected is not None:
            seconds = self.retry_after()
            raise errors.QueueFull(
                f"server busy: a result would take about {expected:.0f} s, over "
                f"request_timeout_s ({self.request_timeout_s:g} s); retry in {seconds} s",
                retry_after=seconds,
            )

    # -- work -----------------------------------------------------------------------------

    async def submit(
        self,
        audio: Audio,
        options: TranscribeOptions,
        *,
        finishing: bool = False,
        background: bool = False,
        since: float | None = None,
        progress: Progress | None = None,
    ) -> Transcription:
        """`finishing`: the last work of something admitted before the drain (an open stream's
        final result), still accepted while draining. `background`: best-effort work (a
        stream's partial result) that waits behind every other queued request. `since`: when
        the work became due (time.monotonic(); default now): queued work is served oldest
        first (batching.PendingQueue). `progress`: told how far the decode has got, from the
        decode thread, when the engine can say."""
        self.check_admission(finishing=finishing)
        assert self._queue is not None  # check_admission: started
        future = asyncio.get_running_loop().create_future()
        item = PendingRequest(
            audio, options, future, background=background, since=since, progress=progress
        )
        self._queue.put(item)
        self.metrics.queue_depth.set(len(self._queue))
        try:
            return await asyncio.wait_for(asyncio.shield(item.future), self.request_timeout_s)
        except TimeoutError:
            item.abandoned = DEADLINE
            raise errors.RequestTimeout(
                f"no result within {self.request_timeout_s or 0:g} s (request_timeout_s)"
            ) from None
        finally:
            # Gave up (deadline, or cancelled: the client is gone): leave the queue; taken
            # into a batch not yet decoding, the worker drops it; decoding already, the
            # decode finishes in its thread and its result is dropped.
            if not item.future.done():
                item.future.cancel()
            if self._queue.discard(item):
                self.metrics.queue_depth.set(len(self._queue))
                self._cancelled(item)

    async def _work(self) -> None:
        assert self._queue is not None and self.settings is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._queue.take_batch(
                self.settings.max_batch_size, self.settings.max_wait_s
            )
            self.metrics.queue_depth.set(len(self._queue))
            batch = self._still_wanted(batch)
            if not batch:
                continue
            started = time.monotonic()
            for item in batch:
                self.metrics.queue_wait_seconds.observe(started - item.enqueued_at)
            self.metrics.batch_size.observe(len(batch))
            self._decoding += len(batch)
            try:
                results = await loop.run_in_executor(self._executor, self._decode_call(batch))
            except asyncio.CancelledError:
                for item in batch:
                    _fail(item, errors.Draining("the server stopped before this decode finished"))
                raise
            except Exception as exc:  # an engine fault: fail this batch, keep serving
                log.exception("engine batch of %d failed", len(batch))
                for item in batch:
                    _fail(item, exc)
                continue
            finally:
                self._decoding -= len(batch)
            elapsed = time.monotonic() - started
            weight = _EWMA_WEIGHT if self._batches_timed else 1.0  # the first replaces the guess
            self._batch_seconds += weight * (elapsed - self._batch_seconds)
            self._batches_timed += 1
            if len(results) != len(batch):
                log.error("engine returned %d results for %d items", len(results), len(batch))
                for item in batch:
                    _fail(item, RuntimeError("engine returned a malformed batch result"))
                continue
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, EngineError):
                    _fail(item, errors.engine_error(result))
                elif not item.future.done():
                    item.future.set_result(result)

    def _still_wanted(self, batch: list[PendingRequest]) -> list[PendingRequest]:
        """The batch without the rows whose requester gave up while it was collected."""
        wanted = []
        for item in batch:
            if item.future.done():
                self._cancelled(item)
            else:
                wanted.append(item)
        return wanted

    def _cancelled(self, item: PendingRequest) -> None:
        self.metrics.cancelled_requests_total.labels(reason=item.abandoned).inc()

    def _decode_call(self, batch: list[PendingRequest]) -> functools.partial[BatchResult]:
        """The engine call for `batch`: with the items' progress callbacks when any asked for
        one and the engine can report progress."""
        items = [(item.audio, item.options) for item in batch]
        progress = [item.progress for item in batch]
        if any(progress) and isinstance(self.engine, ReportsProgress):
            return functools.partial(self.engine.transcribe_batch_with_progress, items, progress)
        return functools.partial(self.engine.transcribe_batch, items)


def _fail(item: PendingRequest, exc: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
