"""The data plane every transport calls: decode -> cache -> schedule -> account, with the
transport's limits (no aiohttp here: the data plane has no transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from asr_server import errors
from asr_server.config import ServerConfig
from asr_server.dataplane import OFFLINE, DataPlane, Usage
from asr_server.engines.base import ASREngine, EngineError, Progress
from asr_server.engines.fake import FakeEngine
from asr_server.metrics import Metrics
from asr_server.types import Audio, TranscribeOptions, Transcription
from support.asr_engines import GatedEngine, tone
from support.asr_http import wav_bytes

MakePlane = Callable[..., DataPlane]


@pytest.fixture
async def make_plane() -> AsyncIterator[MakePlane]:
    planes: list[DataPlane] = []

    def make(engine: ASREngine, **config: object) -> DataPlane:
        fields = {"engine": "fake", "batch_max_wait_ms": 0.0, **config}
        plane = DataPlane(ServerConfig(**fields), engine, Metrics.create())  # type: ignore[arg-type]
        planes.append(plane)
        return plane

    yield make
    for plane in planes:
        await plane.stop()


def audio_seconds(plane: DataPlane) -> float:
    return plane.metrics.audio_seconds_total._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_decode_cache_schedule_account(make_plane: MakePlane) -> None:
    engine = FakeEngine()
    plane = make_plane(engine, cache_entries=4)
    await plane.start()
    usage = Usage()
    audio = await plane.decode(wav_bytes(1.5, freq=300))
    first = await plane.transcribe(audio, TranscribeOptions(), usage=usage)
    again = await plane.transcribe(audio, TranscribeOptions(), usage=usage)
    assert first == again and first.text == "fake transcript of 1.50 seconds"
    assert engine.calls == 1  # the second came from the cache
    assert usage.audio_seconds == pytest.approx(3.0)
    assert audio_seconds(plane) == pytest.approx(3.0)


async def test_stream_decodes_are_neither_cached_nor_counted(make_plane: MakePlane) -> None:
    engine = FakeEngine()
    plane = make_plane(engine, cache_entries=4)
    await plane.start()
    audio = await plane.decode(wav_bytes(1.0, freq=300))
    for _ in range(2):
        await plane.stream_decode(
            audio, TranscribeOptions(), finishing=True, background=False, since=0.0
        )
    assert engine.calls == 2
    assert audio_seconds(plane) == 0.0
    plane.account(4.0)  # what the hub counts when the stream ends
    assert audio_seconds(plane) == 4.0


async def test_the_servers_beam_size_fills_in_before_the_cache_and_the_engine(
    make_plane: MakePlane,
) -> None:
    engine = GatedEngine()
    plane = make_plane(engine, cache_entries=8, beam_size=3)
    await plane.start()
    audio = tone(1.0, 0.5)
    await plane.transcribe(audio, TranscribeOptions())  # ASR_BEAM_SIZE: 3
    await plane.transcribe(audio, TranscribeOptions(beam_size=3))  # the same work: cached
    await plane.transcribe(audio, TranscribeOptions(beam_size=1))  # a result of its own
    await plane.transcribe(audio, TranscribeOptions(beam_size=1))  # cached
    await plane.stream_decode(
        audio, TranscribeOptions(), finishing=True, background=False, since=0.0
    )
    seen = [options.beam_size for batch in engine.batches for _, options in batch]
    assert seen == [3, 1, 3]


async def test_work_is_refused_before_decoding_until_the_engine_is_loaded(
    make_plane: MakePlane,
) -> None:
    plane = make_plane(FakeEngine())
    with pytest.raises(errors.NotReady):
        await plane.decode(b"not even audio")
    await plane.start()
    with pytest.raises(errors.BadAudio):
        await plane.decode(b"not even audio")


async def test_the_offline_limits_take_any_length(make_plane: MakePlane) -> None:
    long = wav_bytes(3.0)
    limited = make_plane(FakeEngine(), max_audio_seconds=2.0)
    await limited.start()
    with pytest.raises(errors.BadAudio) as refused:
        await limited.decode(long)
    assert refused.value.code == "audio_too_long"
    offline = DataPlane(ServerConfig(engine="fake", max_audio_seconds=2.0), FakeEngine(),
                        Metrics.create(), OFFLINE)  # fmt: skip
    await offline.start()
    try:
        assert len(await offline.decode(long)) == 3 * 16000
        assert offline.scheduler.request_timeout_s is None
    finally:
        await offline.stop()


class ProgressEngine(FakeEngine):
    """A fake engine that reports each item halfway and done (ReportsProgress)."""

    def transcribe_batch_with_progress(
        self, items: Sequence[tuple[Audio, TranscribeOptions]], progress: Sequence[Progress | None]
    ) -> list[Transcription | EngineError]:
        for (audio, _), report in zip(items, progress, strict=True):
            if report is not None:
                seconds = len(audio) / 16000
                report(seconds / 2, seconds)
        return self.transcribe_batch(items)


async def test_progress_reaches_an_engine_that_reports_it(make_plane: MakePlane) -> None:
    plane = make_plane(ProgressEngine())
    await plane.start()
    seen: list[tuple[float, float]] = []
    audio = await plane.decode(wav_bytes(2.0))
    await plane.transcribe(audio, TranscribeOptions(), progress=lambda *p: seen.append(p))
    assert seen == [(1.0, 2.0)]
    # Without a progress callback the engine's plain transcribe_batch is called.
    await plane.transcribe(await plane.decode(wav_bytes(1.0)), TranscribeOptions())
    assert seen == [(1.0, 2.0)]


async def test_an_engine_refusal_is_the_items_400(make_plane: MakePlane) -> None:
    plane = make_plane(FakeEngine(fail_with="cannot decode this"))
    await plane.start()
    with pytest.raises(errors.BadRequest, match="cannot decode this") as refused:
        await plane.transcribe(await plane.decode(wav_bytes(1.0)), TranscribeOptions())
    assert refused.value.code == "engine_error"
