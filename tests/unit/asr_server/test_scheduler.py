"""Scheduler: admission, FIFO, batch collection by decoding settings, timeout, drain.

The engine is held at `decode_gate` by the test, so queue states are built deterministically
(no sleeps that the assertions depend on)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from asr_server import errors
from asr_server.batching import BatchSettings
from asr_server.metrics import Metrics
from asr_server.scheduler import Scheduler
from asr_server.types import TranscribeOptions, Transcription
from support.asr_engines import POISON, GatedEngine, label, tone

EN = TranscribeOptions(language="en")
ZH = TranscribeOptions(language="zh")

MakeScheduler = Callable[..., Scheduler]


@pytest.fixture
async def make_scheduler() -> AsyncIterator[MakeScheduler]:
    made: list[Scheduler] = []

    def make(
        engine: GatedEngine,
        *,
        concurrency: int = 1,
        batch: int = 4,
        wait_ms: float = 0.0,
        max_queue: int = 16,
        timeout_s: float = 30.0,
    ) -> Scheduler:
        scheduler = Scheduler(
            engine, max_queue=max_queue, request_timeout_s=timeout_s, metrics=Metrics.create()
        )
        scheduler.start(BatchSettings(concurrency, batch, wait_ms / 1000, "cpu", 2.0))
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        await scheduler.stop()


async def started(engine: GatedEngine, batches: int = 1) -> None:
    """Wait until the engine has begun `batches` more batch decodes."""
    for _ in range(batches):
        await asyncio.to_thread(engine.started.acquire)


async def until_queued(scheduler: Scheduler, depth: int) -> None:
    while scheduler.queue_depth < depth:  # noqa: ASYNC110 - polls loop-only state
        await asyncio.sleep(0)


async def busy_scheduler(
    make_scheduler: MakeScheduler, **settings: float
) -> tuple[GatedEngine, Scheduler, asyncio.Task[Transcription]]:
    """A scheduler whose engine holds its first request at `decode_gate` (returned with it),
    so whatever is submitted next queues up."""
    engine = GatedEngine()
    engine.decode_gate.clear()
    scheduler = make_scheduler(engine, **settings)
    first = asyncio.create_task(scheduler.submit(tone(0.1, 0.0), EN))
    await started(engine)
    return engine, scheduler, first


async def test_batches_group_identical_options_and_never_mix(make_scheduler: MakeScheduler) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    scheduler = make_scheduler(engine, batch=4)
    first = asyncio.create_task(scheduler.submit(tone(0.1, 0.0), EN))
    await started(engine)  # the worker is busy with `first`; the rest queues up
    plan = [(0.1, EN), (0.2, ZH), (0.3, EN), (0.4, ZH), (0.5, EN), (0.6, EN), (0.7, EN)]
    tasks = [asyncio.create_task(scheduler.submit(tone(1.0, v), o)) for v, o in plan]
    await until_queued(scheduler, len(plan))
    engine.decode_gate.set()
    results = await asyncio.gather(first, *tasks)

    # every request got its own result (no cross-talk)
    for (value, _), result in zip(plan, results[1:], strict=True):
        assert result.text == label(tone(1.0, value))
    assert [len(b) for b in engine.batches] == [1, 4, 2, 1]
    for batch in engine.batches:
        assert len({options for _, options in batch}) == 1, batch
    # oldest first: the second batch starts with the oldest queued request (0.1, EN)
    assert engine.batches[1][0][0] == label(tone(1.0, 0.1))
    assert engine.batches[2][0][1] == ZH
    sizes = scheduler.metrics.registry.get_sample_value("asr_batch_size_count")
    assert sizes == 4


async def test_prompts_share_a_batch_and_older_work_goes_first(
    make_scheduler: MakeScheduler,
) -> None:
    # Live streams prompt every decode with their own previous text: those still batch.
    # A stream's final that became due earlier (`since`) is served before newer requests.
    engine, scheduler, first = await busy_scheduler(make_scheduler, batch=4)
    prompted = [
        replace(EN, prompt="And so my fellow Americans."),
        replace(EN, prompt="Ask not!", hotwords="country"),
        EN,
    ]
    tasks = [
        asyncio.create_task(scheduler.submit(tone(1.0, 0.1 * i), o))
        for i, o in enumerate(prompted, 1)
    ]
    await until_queued(scheduler, 3)
    old = asyncio.get_running_loop().time() - 1.0  # loop.time() is time.monotonic()
    tasks.append(asyncio.create_task(scheduler.submit(tone(1.0, 0.9), ZH, since=old)))
    await until_queued(scheduler, 4)
    engine.decode_gate.set()
    await asyncio.gather(first, *tasks)
    assert [len(b) for b in engine.batches] == [1, 1, 3]
    assert engine.batches[1][0][1] == ZH  # due a second ago: ahead of the queued three
    assert [options for _, options in engine.batches[2]] == prompted


async def test_beam_sizes_never_share_a_batch(make_scheduler: MakeScheduler) -> None:
    # A beam is what CTranslate2 applies to a whole call: the queue keeps them apart.
    engine, scheduler, first = await busy_scheduler(make_scheduler, batch=4)
    beams = [1, 5, 1, 5, 2]
    tasks = [
        asyncio.create_task(scheduler.submit(tone(1.0, 0.1 * i), replace(EN, beam_size=beam)))
        for i, beam in enumerate(beams, 1)
    ]
    await until_queued(scheduler, len(beams))
    engine.decode_gate.set()
    results = await asyncio.gather(first, *tasks)
    for i, result in enumerate(results[1:], 1):
        assert result.text == label(tone(1.0, 0.1 * i))
    batched = [[options.beam_size for _, options in batch] for batch in engine.batches[1:]]
    assert batched == [[1, 1], [5, 5], [2]]


async def test_batch_size_one_is_strict_fifo(make_scheduler: MakeScheduler) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    scheduler = make_scheduler(engine, batch=1)
    values = [0.1, 0.2, 0.3, 0.4]
    tasks = [asyncio.create_task(scheduler.submit(tone(0.5, v), EN)) for v in values]
    await started(engine)
    engine.decode_gate.set()
    await asyncio.gather(*tasks)
    assert [b[0][0] for b in engine.batches] == [label(tone(0.5, v)) for v in values]


async def test_full_queue_raises_queue_full_with_retry_after(
    make_scheduler: MakeScheduler,
) -> None:
    engine, scheduler, busy = await busy_scheduler(make_scheduler, batch=1, max_queue=2)
    queued = [asyncio.create_task(scheduler.submit(tone(0.1), EN)) for _ in range(2)]
    await until_queued(scheduler, 2)
    assert scheduler.saturated
    with pytest.raises(errors.QueueFull) as refused:
        await scheduler.submit(tone(0.1), EN)
    assert refused.value.retry_after >= 1
    engine.decode_gate.set()
    await asyncio.gather(busy, *queued)
    assert not scheduler.saturated
    await scheduler.submit(tone(0.1), EN)  # admitted again once the queue drained


async def test_timeout_frees_the_worker_after_the_decode_finishes(
    make_scheduler: MakeScheduler,
) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    scheduler = make_scheduler(engine, batch=1, timeout_s=0.2)
    with pytest.raises(errors.RequestTimeout):
        await scheduler.submit(tone(0.1, 0.1), EN)  # stuck in the engine
    with pytest.raises(errors.RequestTimeout):
        await scheduler.submit(tone(0.1, 0.2), EN)  # stuck in the queue behind it
    assert scheduler.queue_depth == 0  # the queued one left the queue when it gave up
    engine.decode_gate.set()
    result = await scheduler.submit(tone(0.1, 0.3), EN)
    assert result.text == label(tone(0.1, 0.3))
    assert scheduler.decoding == 0
    # the abandoned queued request was never decoded
    assert [b[0][0] for b in engine.batches] == [label(tone(0.1, v)) for v in (0.1, 0.3)]


async def test_engine_error_fails_only_its_item(make_scheduler: MakeScheduler) -> None:
    engine, scheduler, first = await busy_scheduler(make_scheduler, batch=4)
    good = asyncio.create_task(scheduler.submit(tone(0.2, 0.5), EN))
    bad = asyncio.create_task(scheduler.submit(tone(0.2, POISON), EN))
    await until_queued(scheduler, 2)
    engine.decode_gate.set()
    await first
    assert (await good).text == label(tone(0.2, 0.5))
    with pytest.raises(errors.BadRequest) as rejected:
        await bad
    assert rejected.value.code == "engine_error"
    assert len(engine.batches[1]) == 2  # they shared a batch


async def test_drain_refuses_new_work_and_finishes_admitted(make_scheduler: MakeScheduler) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    scheduler = make_scheduler(engine)
    admitted = asyncio.create_task(scheduler.submit(tone(0.1, 0.7), EN))
    await started(engine)
    scheduler.begin_drain()
    with pytest.raises(errors.Draining):
        await scheduler.submit(tone(0.1), EN)
    engine.decode_gate.set()
    assert (await admitted).text == label(tone(0.1, 0.7))


async def test_not_ready_before_start_and_while_the_model_loads() -> None:
    engine = GatedEngine(loaded=False)
    scheduler = Scheduler(engine, max_queue=1, request_timeout_s=1.0, metrics=Metrics.create())
    with pytest.raises(errors.NotReady):
        await scheduler.submit(tone(0.1), EN)
    scheduler.start(BatchSettings(1, 1, 0.0, "cpu", 2.0))
    try:
        with pytest.raises(errors.NotReady):
            await scheduler.submit(tone(0.1), EN)
    finally:
        await scheduler.stop()


async def test_stop_fails_queued_requests_instead_of_hanging(
    make_scheduler: MakeScheduler,
) -> None:
    engine, scheduler, busy = await busy_scheduler(make_scheduler, batch=1)
    queued = asyncio.create_task(scheduler.submit(tone(0.1), EN))
    await until_queued(scheduler, 1)
    await scheduler.stop()
    engine.decode_gate.set()
    for task in (busy, queued):
        with pytest.raises(errors.Draining):
            await task


async def test_work_that_would_outlive_its_timeout_is_refused_with_429(
    make_scheduler: MakeScheduler,
) -> None:
    """Once a decode has been timed, a request that would wait behind work for longer than
    request_timeout_s is refused up front (429) instead of admitted to end in a 504 after
    costing a decode; an idle server still admits."""
    engine = GatedEngine()
    engine.decode_gate.clear()
    scheduler = make_scheduler(engine, timeout_s=1.0)
    slow = asyncio.create_task(scheduler.submit(tone(0.1, 0.0), EN))
    await started(engine)
    await asyncio.sleep(1.2)  # the timed batch takes at least this long
    engine.decode_gate.set()
    with pytest.raises(errors.RequestTimeout):
        await slow
    engine.decode_gate.clear()
    held = asyncio.create_task(scheduler.submit(tone(0.1, 0.1), EN))
    await started(engine)  # admitted: the server was idle
    assert scheduler.refusing and not scheduler.saturated  # asr_saturated says so too
    with pytest.raises(errors.QueueFull, match="over request_timeout_s") as refused:
        await scheduler.submit(tone(0.1, 0.2), EN)
    assert refused.value.retry_after >= 1
    engine.decode_gate.set()
    assert (await held).text == label(tone(0.1, 0.1))
    assert not scheduler.refusing
    result = await scheduler.submit(tone(0.1, 0.3), EN)  # idle again: admitted
    assert result.text == label(tone(0.1, 0.3))
