"""Pacing partials across streams: later partials wait while another stream awaits its
utterance's first, and a stream rests after a partial in proportion to the crowd."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from asr_server.streaming.crowd import FirstPartials, rest_after_partial
from asr_server.streaming.decoding import FINAL, FIRST_PARTIAL, PARTIAL
from asr_server.streaming.protocol import StartMessage
from asr_server.streaming.session import StreamSession
from asr_server.streaming.utterance import StreamSettings
from asr_server.types import SAMPLE_RATE
from support.pcm import to_pcm16
from support.stream_session import Collector, RecordingDecoder, feed_all


def frozen_session(
    decoder: RecordingDecoder, first_partials: FirstPartials | None = None
) -> StreamSession:
    # A frozen clock: no rest between partials, so every due partial that is not held runs.
    session = StreamSession(
        StartMessage(),
        StreamSettings(partial_interval_s=0.3),
        decoder,
        Collector(),
        clock=lambda: 0.0,
        first_partials=first_partials,
    )
    session.start()
    return session


def test_other_streams_waiting() -> None:
    crowd = FirstPartials()
    assert not crowd.others_waiting("a")
    crowd.waiting("a")
    assert not crowd.others_waiting("a") and crowd.others_waiting("b")
    crowd.waiting("b")
    assert crowd.others_waiting("a")
    crowd.done("b")
    crowd.done("b")  # twice is harmless
    assert not crowd.others_waiting("a")


async def test_only_the_streams_first_partial_is_foreground(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder = RecordingDecoder()
    session = frozen_session(decoder)
    speech = jfk_samples[: int(2.2 * SAMPLE_RATE)]
    silence = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    await feed_all(session, to_pcm16(np.concatenate([speech, silence, speech, silence])))
    await session.finish()
    assert decoder.kinds.count(FINAL) == 2
    first = [k for k in decoder.kinds[: decoder.kinds.index(FINAL)] if k != FINAL]
    second = [k for k in decoder.kinds[decoder.kinds.index(FINAL) + 1 :] if k != FINAL]
    assert first[0] == FIRST_PARTIAL and set(first[1:]) == {PARTIAL}, first
    assert second and set(second) == {PARTIAL}, second  # partials still come, as background


async def test_later_partials_wait_while_another_stream_awaits_its_first(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    crowd, decoder = FirstPartials(), RecordingDecoder()
    session = frozen_session(decoder, crowd)
    crowd.waiting("another stream")
    await feed_all(session, to_pcm16(jfk_samples[: 2 * SAMPLE_RATE]))
    assert decoder.kinds == [FIRST_PARTIAL]  # then held
    crowd.done("another stream")
    await feed_all(session, to_pcm16(jfk_samples[2 * SAMPLE_RATE : 3 * SAMPLE_RATE]))
    assert PARTIAL in decoder.kinds
    await session.finish()
    assert not crowd.others_waiting("another stream")  # the finished stream left the crowd


def test_the_rest_after_a_partial_grows_with_the_open_streams() -> None:
    # 8 streams: each rests 15 times its partial's time, so together they use about half.
    assert rest_after_partial(0.2, 8, shown_before=True) == 0.2 * 15
    assert rest_after_partial(0.2, 1, shown_before=True) == 0.2
    assert rest_after_partial(0.2, 0, shown_before=True) == 0.2  # counted before it opened
    # Until the stream's first partial was shown, it retries after one partial's time only.
    assert rest_after_partial(0.2, 8, shown_before=False) == 0.2
