"""StreamSession on real speech with a recording stand-in for the scheduler's submit."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from asr_server.engines.base import SAMPLE_RATE
from asr_server.streaming.protocol import (
    Error,
    Final,
    Partial,
)
from support.pcm import FRAME_SAMPLES, to_pcm16
from support.stream_session import Collector, RecordingDecoder, feed_all, make_session


@pytest.fixture
def two_utterances(jfk_samples: npt.NDArray[np.float32]) -> tuple[bytes, float]:
    """ "And so my fellow Americans" (speech 0.32-2.24 s), 1.5 s of digital silence, then
    "ask what you can do for your country" (speech from 0.22 s into the second piece).
    Returns the PCM and where the second speech starts in the stream."""
    first = jfk_samples[: int(2.6 * SAMPLE_RATE)]
    silence = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    second = jfk_samples[8 * SAMPLE_RATE :]
    return to_pcm16(np.concatenate([first, silence, second])), 2.6 + 1.5 + 0.22


async def test_two_utterances_give_two_finals_with_ids_and_offsets(
    two_utterances: tuple[bytes, float],
) -> None:
    pcm, second_onset = two_utterances
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out)
    await feed_all(session, pcm)
    await session.finish()
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert [f.segment_id for f in finals] == [0, 1]
    first, second = finals
    pad = session.settings.endpoint.pad_s
    assert first.start == pytest.approx(0.32 - pad, abs=0.1)
    assert first.end == pytest.approx(2.24 + pad, abs=0.15)
    assert second.start == pytest.approx(second_onset - pad, abs=0.1)
    assert second.end == pytest.approx(len(pcm) / 2 / SAMPLE_RATE, abs=0.01)  # closed by eof
    assert all(f.confidence == 0.8 for f in finals)
    assert decoder.max_in_flight == 1


async def test_partials_are_coalesced_while_a_decode_is_in_flight(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.gate = asyncio.Event()
    session = make_session(decoder, out, partial_interval_s=0.3)
    # jfk's first utterance runs 0.32-2.24 s: still open after 2 s.
    await feed_all(session, to_pcm16(jfk_samples[: 2 * SAMPLE_RATE]))
    assert decoder.calls and decoder.calls[0][1] is False
    assert len(decoder.calls) == 1  # 1.7 s of speech, one partial decode pending, none queued
    decoder.gate.set()
    await asyncio.sleep(0.01)
    await session.finish()
    assert decoder.max_in_flight == 1
    partials = out.of(Partial)
    assert partials and all(isinstance(p, Partial) and p.segment_id == 0 for p in partials)
    assert isinstance(out.messages[-1], Final)


async def test_final_preferred_and_stale_partial_dropped(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.gate = asyncio.Event()
    session = make_session(decoder, out, partial_interval_s=0.3)
    speech = jfk_samples[: 2 * SAMPLE_RATE]
    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
    await feed_all(session, to_pcm16(np.concatenate([speech, silence, speech])))
    # The utterance ended while its partial was in flight: its final must come next.
    decoder.gate.set()
    await session.finish()
    kinds = [final for _, final in decoder.calls]
    assert kinds[0] is False and kinds[1] is True
    first_final = out.messages.index(next(m for m in out.messages if isinstance(m, Final)))
    assert not any(isinstance(m, Partial) for m in out.messages[:first_final])


async def test_max_utterance_forces_finals(jfk_samples: npt.NDArray[np.float32]) -> None:
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out, max_utterance_s=2.0)
    await feed_all(session, to_pcm16(jfk_samples))
    await session.finish()
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(finals) >= 4
    assert all(f.end - f.start <= 2.0 + 1e-6 for f in finals)  # cut exactly at the limit
    assert [f.segment_id for f in finals] == list(range(len(finals)))


async def test_failed_final_reports_error_and_stream_continues(
    two_utterances: tuple[bytes, float],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.fail_next_final = True
    session = make_session(decoder, out)
    await feed_all(session, two_utterances[0])
    await session.finish()
    errors = [m for m in out.of(Error) if isinstance(m, Error)]
    assert len(errors) == 1 and errors[0].code == "queue_full"
    assert out.of(Final)  # the later utterances still got their finals


async def test_abort_cancels_the_pending_decode(jfk_samples: npt.NDArray[np.float32]) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.gate = asyncio.Event()  # never released: a decode stuck in the scheduler
    session = make_session(decoder, out)
    await feed_all(session, to_pcm16(jfk_samples[: 2 * SAMPLE_RATE]))
    assert decoder.in_flight == 1
    await session.abort()
    assert decoder.in_flight == 0
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if t.get_name() == "asr-stream-decoder"]


async def test_odd_sized_frames_carry_the_spare_byte(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out)
    pcm = to_pcm16(jfk_samples[: 2 * SAMPLE_RATE])
    for i in range(0, len(pcm), FRAME_SAMPLES + 1):  # odd byte counts
        session.feed(pcm[i : i + FRAME_SAMPLES + 1])
    assert session.total_samples == 2 * SAMPLE_RATE
    await session.finish()


async def test_silence_only_gives_no_final() -> None:
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out)
    await feed_all(session, to_pcm16(np.zeros(3 * SAMPLE_RATE, dtype=np.float32)))
    await session.finish()
    assert out.messages == [] and decoder.calls == []
