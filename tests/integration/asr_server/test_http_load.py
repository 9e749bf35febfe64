"""More parallel requests than the server admits: each gets its own result or a 429,
nothing hangs or is lost, and the batch-size metric shows batching happened."""

from __future__ import annotations

import asyncio

import aiohttp
from asr_server.keys import METRICS, SCHEDULER
from support.asr_engines import GatedEngine
from support.asr_http import StartServer, wav_bytes

N = 14
MAX_QUEUE = 3
CONCURRENCY = 1
BATCH = 4


async def test_parallel_requests_are_answered_or_refused_never_lost(
    start_server: StartServer,
) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    server = await start_server(
        engine, max_concurrency=CONCURRENCY, batch_max_size=BATCH, max_queue=MAX_QUEUE
    )
    scheduler = server.app[SCHEDULER]

    async def post(i: int) -> tuple[int, dict[str, object]]:
        seconds = 0.1 + 0.01 * i  # a distinct length per request identifies its result
        async with server.http.post(
            f"{server.url}/v1/recognize",
            data=wav_bytes(seconds),
            headers={"Content-Type": "audio/wav"},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as response:
            return response.status, await response.json()

    tasks = [asyncio.create_task(post(i)) for i in range(N)]
    # Hold the engine until every request is either admitted (queued or decoding) or refused.
    async with asyncio.timeout(30):
        while scheduler.queue_depth + scheduler.decoding + sum(t.done() for t in tasks) < N:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    admitted = scheduler.queue_depth + scheduler.decoding
    engine.decode_gate.set()
    async with asyncio.timeout(60):
        results = await asyncio.gather(*tasks)

    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) == admitted
    assert statuses.count(429) >= N - (MAX_QUEUE + CONCURRENCY * BATCH)
    for i, (status, body) in enumerate(results):
        if status == 200:
            expected = int((0.1 + 0.01 * i) * 16000)
            assert body["text"].startswith(f"n={expected} "), (i, body)
        else:
            assert body["error"]["code"] == "queue_full"  # type: ignore[index]
    registry = server.app[METRICS].registry
    batches = registry.get_sample_value("asr_batch_size_count")
    assert batches is not None and batches < admitted  # some requests shared a batch
    assert registry.get_sample_value("asr_inflight_requests") == 0
    assert registry.get_sample_value("asr_queue_depth") == 0
