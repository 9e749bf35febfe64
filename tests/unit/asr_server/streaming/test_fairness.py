"""Finals before partials, across streams (scheduler queue) and within one (session)."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
from asr_server.batching import BACKGROUND_MAX_BATCH, PendingQueue, PendingRequest
from asr_server.streaming.decoding import FINAL
from asr_server.streaming.protocol import Final, StartMessage
from asr_server.streaming.session import StreamSession
from asr_server.streaming.utterance import StreamSettings
from asr_server.types import SAMPLE_RATE, TranscribeOptions
from support.pcm import frames, to_pcm16
from support.stream_session import Collector, RecordingDecoder, feed_all, make_session


def request(name: str, *, background: bool = False, since: float | None = None) -> PendingRequest:
    loop = asyncio.get_running_loop()
    options = TranscribeOptions(prompt=name)  # distinct options: one request per batch
    audio, future = np.zeros(1, np.float32), loop.create_future()
    return PendingRequest(audio, options, future, background=background, since=since)


async def test_background_requests_queue_behind_all_other_work() -> None:
    queue = PendingQueue()
    order = ["p1", "f1", "p2", "http", "f2"]
    for name in order:
        queue.put(request(name, background=name.startswith("p")))
    taken = [(await queue.take_batch(1, 0))[0].options.prompt for _ in order]
    assert taken == ["f1", "http", "f2", "p1", "p2"]


async def test_foreground_work_is_served_oldest_due_first() -> None:
    # A final whose speech ended at t=1 (second chance, or it waited for its stream's slot)
    # goes ahead of work due later; equal times keep arrival order; partials stay last.
    queue = PendingQueue()
    for name, since in [("http", 5.0), ("p1", 0.0), ("f-late", 3.0), ("f-old", 1.0), ("f-3", 3.0)]:
        queue.put(request(name, background=name.startswith("p"), since=since))
    taken = [(await queue.take_batch(1, 0))[0].options.prompt for _ in range(5)]
    assert taken == ["f-old", "f-late", "f-3", "http", "p1"]


async def test_a_closing_utterance_cancels_its_queued_partial(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.gate = asyncio.Event()  # the partial stays "queued in the scheduler"
    session = make_session(decoder, out, partial_interval_s=0.3)
    speech = jfk_samples[: 2 * SAMPLE_RATE]
    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
    await feed_all(session, to_pcm16(np.concatenate([speech, silence])))
    await asyncio.sleep(0)
    # The partial was given up; the stream's one decode slot now holds the final.
    assert [final for _, final in decoder.calls] == [False, True]
    assert decoder.in_flight == 1
    decoder.gate.set()
    await session.finish()
    assert [type(m) for m in out.messages] == [Final]


async def test_background_requests_never_join_a_foreground_batch() -> None:
    loop = asyncio.get_running_loop()
    options = TranscribeOptions()  # identical options: batchable by options alone

    def same(background: bool) -> PendingRequest:
        audio = np.zeros(1, np.float32)
        return PendingRequest(audio, options, loop.create_future(), background=background)

    queue = PendingQueue()
    items = [same(True), same(False), same(True), same(False)]
    for item in items:
        queue.put(item)
    first = await queue.take_batch(8, 0)
    assert [i.background for i in first] == [False, False]
    # Background batches are capped (BACKGROUND_MAX_BATCH = 1): a final that arrives while
    # partials decode waits for one partial, not a batch of them.
    rest = [await queue.take_batch(8, 0) for _ in range(2)]
    assert BACKGROUND_MAX_BATCH == 1
    assert [[i.background for i in b] for b in rest] == [[True], [True]]
    assert len(queue) == 0


async def test_no_partial_is_started_during_a_pause(jfk_samples: npt.NDArray[np.float32]) -> None:
    decoder, out = RecordingDecoder(), Collector()
    settings = StreamSettings(partial_interval_s=0.3)
    # A frozen clock: no rest between partials, so every due partial is decoded at once.
    session = StreamSession(StartMessage(), settings, decoder, out, clock=lambda: 0.0)
    session.start()
    # jfk's first utterance: speech 0.32-2.24 s, then 0.46 s of pause (not yet its end).
    for frame in frames(to_pcm16(jfk_samples[: int(2.7 * SAMPLE_RATE)])):
        session.feed(frame)
        for _ in range(10):  # let the decoder task finish any partial it started
            await asyncio.sleep(0)
    partial_ends = [0.12 + seconds for seconds, final in decoder.calls if not final]
    assert len(partial_ends) >= 5, decoder.calls  # one per 0.3 s of speech
    assert max(partial_ends) <= 2.24 + 0.15  # none requested after the speech stopped
    await session.finish()


async def test_the_route_queues_finals_and_first_partials_ahead_of_partials() -> None:
    from asr_server.app import create_app
    from asr_server.config import ServerConfig
    from asr_server.keys import SCHEDULER, STREAMS
    from asr_server.streaming.decoding import FINAL, FIRST_PARTIAL, PARTIAL
    from asr_server.types import Transcription

    app = create_app(ServerConfig(engine="fake"))
    calls: list[tuple[bool, bool, float | None]] = []

    async def submit(
        audio: object,
        options: object,
        *,
        finishing: bool = False,
        background: bool = False,
        since: float | None = None,
    ) -> Transcription:
        calls.append((finishing, background, since))
        return Transcription("", "en", 1.0, 0.0)

    app[SCHEDULER].submit = submit  # type: ignore[method-assign]
    for since, kind in enumerate((FINAL, FIRST_PARTIAL, PARTIAL)):
        await app[STREAMS].decode(np.zeros(1, np.float32), TranscribeOptions(), kind, since)
    # (finishing: still admitted while draining, background: behind all other work, since)
    assert calls == [(True, False, 0), (False, False, 1), (False, True, 2)]


async def test_a_fast_client_backlog_is_due_one_final_at_a_time(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    # Audio sent faster than real time closes many utterances at once. Each final is due from
    # its audio's arrival or from the stream's previous final, whichever is later: the backlog
    # must not jump ahead of other clients' newer work as a whole.
    decoder, out = RecordingDecoder(), Collector()
    decoder.decode_seconds = 1.0  # each decode takes a second of the fake clock
    session = StreamSession(
        StartMessage(interim_results=False),
        StreamSettings(),
        decoder,
        out,
        clock=lambda: decoder.now,
    )
    session.start()
    speech = jfk_samples[: int(2.4 * SAMPLE_RATE)]
    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
    for frame in frames(to_pcm16(np.concatenate([speech, silence] * 3))):
        session.feed(frame)  # all of it at t=0, before the worker runs
    await session.finish()
    assert len(out.of(Final)) == 3 and decoder.kinds == [FINAL] * 3
    # The first is due when its audio arrived, the others when the one before was decided.
    assert decoder.since == [0.0, 1.0, 2.0]
