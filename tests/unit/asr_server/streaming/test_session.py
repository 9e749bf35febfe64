"""StreamSession on real speech with a recording stand-in for the scheduler's submit."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from asr_server.engines.whisper.options import whisper_options
from asr_server.streaming.decoding import FINAL, FIRST_PARTIAL, PARTIAL
from asr_server.streaming.protocol import (
    Error,
    Final,
    Partial,
    StartMessage,
)
from asr_server.streaming.session import StreamSession
from asr_server.streaming.utterance import StreamSettings
from asr_server.types import SAMPLE_RATE, Audio, TranscribeOptions, Transcription
from support.pcm import FRAME_SAMPLES, frames, to_pcm16
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
    # Closed by eof in a pause: it ends where the speech did (plus the padding), as it would
    # had the pause gone on.
    assert len(pcm) / 2 / SAMPLE_RATE - 0.6 < second.end < len(pcm) / 2 / SAMPLE_RATE
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
    decoder.fail_finals = 2  # the first utterance's early decode (if any) and its final
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


async def test_eof_during_speech_closes_at_the_last_sample(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out)
    await feed_all(session, to_pcm16(jfk_samples[: 2 * SAMPLE_RATE]))  # mid-utterance
    await session.finish()
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert [f.end for f in finals] == [2.0]


async def test_the_final_decode_starts_in_the_pause_and_is_reused(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out)
    speech = jfk_samples[: int(2.3 * SAMPLE_RATE)]  # speech 0.32-2.24 s
    pause = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)  # the padding, not yet the end
    await feed_all(session, to_pcm16(np.concatenate([speech, pause])))
    for _ in range(10):  # let the worker finish a partial it may have started
        await asyncio.sleep(0)
    assert decoder.kinds[-1] == FINAL  # decoded before the endpointer closed the utterance
    assert not out.of(Final)
    await feed_all(session, to_pcm16(np.zeros(SAMPLE_RATE, dtype=np.float32)))
    await session.finish()
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(finals) == 1 and decoder.kinds.count(FINAL) == 1  # the early decode was it
    assert finals[0].text == f"{finals[0].end - finals[0].start:.2f}s"  # RecordingDecoder


async def test_an_early_final_decode_is_dropped_when_the_speaker_goes_on(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.gate = asyncio.Event()  # the early decode stays queued while speech resumes
    session = make_session(decoder, out, partial_interval_s=30)
    first = jfk_samples[: int(2.3 * SAMPLE_RATE)]  # speech 0.32-2.24 s
    pause = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)  # with 0.06 s: under 0.5 s
    second = jfk_samples[int(0.32 * SAMPLE_RATE) : int(2.3 * SAMPLE_RATE)]  # speech at once
    await feed_all(session, to_pcm16(np.concatenate([first, pause])))
    for _ in range(10):
        await asyncio.sleep(0)
    assert decoder.kinds == [FINAL] and decoder.in_flight == 1
    await feed_all(session, to_pcm16(second))
    assert decoder.in_flight == 0  # given up when speech resumed
    decoder.gate.set()
    await feed_all(session, to_pcm16(np.zeros(SAMPLE_RATE, dtype=np.float32)))
    await session.finish()
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(finals) == 1  # one utterance across the short pause
    assert finals[0].text == f"{finals[0].end - finals[0].start:.2f}s"
    assert finals[0].end - finals[0].start > 4.0


async def test_a_partial_in_flight_gives_way_to_the_early_final(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    session = make_session(decoder, out, partial_interval_s=0.3)
    await feed_all(session, to_pcm16(jfk_samples[: int(1.2 * SAMPLE_RATE)]))
    for _ in range(10):
        await asyncio.sleep(0)
    assert out.of(Partial)  # the stream's first partial was shown
    decoder.gate = asyncio.Event()  # from here decodes stay "queued in the scheduler"
    await feed_all(session, to_pcm16(jfk_samples[int(1.2 * SAMPLE_RATE) : int(2.3 * SAMPLE_RATE)]))
    assert decoder.kinds[-1] == PARTIAL and decoder.in_flight == 1
    await feed_all(session, to_pcm16(np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)))
    for _ in range(10):
        await asyncio.sleep(0)
    # In the pause the partial was given up, so the stream's one slot holds the final.
    assert decoder.kinds[-1] == FINAL and decoder.in_flight == 1
    decoder.gate.set()
    await session.finish()
    assert len(out.of(Final)) == 1


async def test_a_final_second_chance_starts_in_the_pause(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.overrun_trimmed = True  # the one-pass final fails the checks
    session = make_session(decoder, out, partial_interval_s=30)
    speech = jfk_samples[: int(2.3 * SAMPLE_RATE)]  # speech 0.32-2.24 s
    pause = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)  # the padding, not yet the end
    await feed_all(session, to_pcm16(np.concatenate([speech, pause])))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not out.of(Final)
    contexts = [
        whisper_options(o).encoder_context
        for o, k in zip(decoder.options, decoder.kinds, strict=True)
        if k == FINAL
    ]
    assert contexts == ["trimmed", "full"]  # both decoded before the utterance closed
    assert decoder.since[-1] == decoder.since[-2]  # the retry keeps the utterance's place
    await feed_all(session, to_pcm16(np.zeros(SAMPLE_RATE, dtype=np.float32)))
    await session.finish()
    assert decoder.kinds.count(FINAL) == 2
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(finals) == 1 and finals[0].text == f"{finals[0].end - finals[0].start:.2f}s"


async def test_the_first_partial_is_foreground_work(jfk_samples: npt.NDArray[np.float32]) -> None:
    decoder, out = RecordingDecoder(), Collector()
    # A frozen clock: no rest between partials, so every due partial is decoded.
    session = StreamSession(
        StartMessage(), StreamSettings(partial_interval_s=0.3), decoder, out, clock=lambda: 0.0
    )
    session.start()
    await feed_all(session, to_pcm16(jfk_samples[: 2 * SAMPLE_RATE]))
    await session.finish()
    partial_kinds = [k for k in decoder.kinds if k != FINAL]
    assert partial_kinds[0] == FIRST_PARTIAL
    assert len(partial_kinds) > 1 and set(partial_kinds[1:]) == {PARTIAL}


async def test_a_trimmed_final_that_overran_its_audio_is_decoded_with_the_full_context(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.overrun_trimmed = True
    session = make_session(decoder, out, partial_interval_s=0.3)
    await feed_all(session, to_pcm16(jfk_samples[: int(3.2 * SAMPLE_RATE)]))
    await session.finish()
    assert not out.of(Partial)  # partials that overran are not shown
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(finals) == 1 and "uh" not in finals[0].text
    kinds = zip(decoder.options, decoder.kinds, strict=True)
    last_two = [options for options, kind in kinds if kind == FINAL][-2:]
    assert [whisper_options(o).encoder_context for o in last_two] == ["trimmed", "full"]
    assert [whisper_options(o).fallback for o in last_two] == [False, True]  # then Whisper's way


async def test_decodes_carry_the_previous_final_as_context(
    two_utterances: tuple[bytes, float],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.overrun_trimmed = True  # fails unless prompted (RecordingDecoder)
    session = make_session(decoder, out, partial_interval_s=0.3)
    await feed_all(session, two_utterances[0])
    await session.finish()
    finals = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(finals) == 2 and not any("uh" in f.text for f in finals)
    tried = [
        (kind, whisper_options(o).encoder_context, o.prompt)
        for o, kind in zip(decoder.options, decoder.kinds, strict=True)
    ]
    second = tried[tried.index((FINAL, "full", None)) + 1 :]
    # The first utterance has no context: its failed one-pass final is retried with the full
    # window. The second utterance's partials and final carry the first final as their prompt,
    # and that final passes at once.
    assert [t for t in tried if t[0] == FINAL] == [
        (FINAL, "trimmed", None),
        (FINAL, "full", None),
        (FINAL, "trimmed", finals[0].text),
    ]
    assert second and all(prompt == finals[0].text for _, _, prompt in second)
    assert any(kind != FINAL for kind, _, _ in second)


async def test_a_final_sampled_at_a_high_temperature_is_not_used_as_context(
    two_utterances: tuple[bytes, float],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.overrun_trimmed = True  # fails unless prompted: both finals need the full window
    decoder.full_temperature = 0.8  # ... where the fallback sampled them
    session = make_session(decoder, out, partial_interval_s=30)
    await feed_all(session, two_utterances[0])
    await session.finish()
    finals = [
        (whisper_options(o).encoder_context, o.prompt)
        for o, k in zip(decoder.options, decoder.kinds, strict=True)
        if k == FINAL
    ]
    # No context from the first final: the second is again unprompted, fails, and is retried.
    assert finals == [("trimmed", None), ("full", None)] * 2


async def partials_with(streams: int, speech: npt.NDArray[np.float32]) -> int:
    """Partials decoded for `speech` when each "takes" 0.1 s of a fake clock."""
    decoder, out = RecordingDecoder(), Collector()
    decoder.decode_seconds = 0.1
    settings = StreamSettings(partial_interval_s=0.1)
    session = StreamSession(
        StartMessage(), settings, decoder, out, clock=lambda: decoder.now, streams=lambda: streams
    )
    session.start()
    for frame in frames(to_pcm16(speech)):
        session.feed(frame)
        decoder.now += len(frame) / 2 / SAMPLE_RATE
        for _ in range(5):
            await asyncio.sleep(0)
    await session.finish()
    return sum(1 for kind in decoder.kinds if kind != FINAL)


async def test_partials_thin_out_with_the_number_of_open_streams(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    # With 8 open streams a stream rests 15 times as long as a partial took, so all streams'
    # partials together use about half of the decode time.
    speech = jfk_samples[: int(2.2 * SAMPLE_RATE)]
    alone, crowded = await partials_with(1, speech), await partials_with(8, speech)
    assert crowded < alone / 2, (alone, crowded)
    assert crowded >= 1  # the first partial always comes


async def test_no_crowd_rest_before_the_first_partial_was_shown(
    jfk_samples: npt.NDArray[np.float32],
) -> None:
    decoder, out = RecordingDecoder(), Collector()
    decoder.decode_seconds = 0.1

    async def empty_at_first(
        audio: Audio, options: TranscribeOptions, kind: str, since: float
    ) -> Transcription:
        result = await decoder(audio, options, kind, since)
        shown = kind == FINAL or len(decoder.kinds) > 2
        return result if shown else Transcription("", "en", 1.0, result.duration)

    settings = StreamSettings(partial_interval_s=0.1)
    session = StreamSession(
        StartMessage(), settings, empty_at_first, out, clock=lambda: decoder.now, streams=lambda: 8
    )
    session.start()
    for frame in frames(to_pcm16(jfk_samples[: int(1.5 * SAMPLE_RATE)])):
        session.feed(frame)
        decoder.now += len(frame) / 2 / SAMPLE_RATE
        for _ in range(5):
            await asyncio.sleep(0)
    # Two empty answers, then one is shown, although 8 streams would make a stream rest 1.5 s
    assert out.of(Partial)
    assert decoder.kinds[:3] == [FIRST_PARTIAL] * 3
    await session.finish()
