"""Every error status of `errors.HTTP_STATUS` (docs/architecture.md) through a real socket,
each followed by a good request: the server keeps serving. The engine is a `GatedEngine` held
by the test where timing matters."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import pytest
from asr_server.keys import SCHEDULER
from asr_server.lifecycle import drain
from support.asr_engines import GatedEngine
from support.asr_http import Server, StartServer, wait_ready, wav_bytes

pytestmark = pytest.mark.asyncio

GOOD_WAV = wav_bytes(0.5, first=0.25)


async def expect_error(response: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    body = await response.json()
    assert response.status == status, body
    assert set(body["error"]) == {"code", "message", "type"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert response.headers.get("X-Request-ID")
    return body


async def still_serves(server: Server, headers: dict[str, str] | None = None) -> None:
    async with server.http.post(
        f"{server.url}/v1/recognize",
        data=GOOD_WAV,
        headers={"Content-Type": "audio/wav", **(headers or {})},
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        assert body["duration"] == pytest.approx(0.5, abs=0.01)


async def test_400_empty_undecodable_too_long_and_bad_fields(start_server: StartServer) -> None:
    server = await start_server(GatedEngine(), max_audio_seconds=2.0)
    url = server.url
    async with server.http.post(f"{url}/v1/recognize", data=b"") as r:
        await expect_error(r, 400, "empty_audio")
    async with server.http.post(f"{url}/v1/recognize", data=b"not audio at all" * 64) as r:
        await expect_error(r, 400, "undecodable_audio")
    async with server.http.post(f"{url}/v1/recognize", data=wav_bytes(3.0)) as r:
        body = await expect_error(r, 400, "audio_too_long")
        assert "2" in body["error"]["message"]
    form = aiohttp.FormData()
    form.add_field("file", GOOD_WAV, filename="a.wav")
    form.add_field("response_format", "xml")
    async with server.http.post(f"{url}/v1/audio/transcriptions", data=form) as r:
        body = await expect_error(r, 400, "invalid_field")
        assert "response_format" in body["error"]["message"]
    form = aiohttp.FormData()
    form.add_field("file", GOOD_WAV, filename="a.wav")
    form.add_field("temperature", "hot")
    async with server.http.post(f"{url}/v1/audio/transcriptions", data=form) as r:
        assert "temperature" in (await expect_error(r, 400, "invalid_field"))["error"]["message"]
    form = aiohttp.FormData()
    form.add_field("model", "whisper-1")
    async with server.http.post(f"{url}/v1/audio/transcriptions", data=form) as r:
        assert "file" in (await expect_error(r, 400, "invalid_field"))["error"]["message"]
    async with server.http.post(f"{url}/v1/recognize?language=english!", data=GOOD_WAV) as r:
        assert "language" in (await expect_error(r, 400, "invalid_field"))["error"]["message"]
    async with server.http.post(f"{url}/v1/recognize", json={"audio": "***"}) as r:
        assert "audio" in (await expect_error(r, 400, "invalid_field"))["error"]["message"]
    await still_serves(server)


async def test_401_without_or_with_wrong_key_and_open_ops_routes(start_server: StartServer) -> None:
    server = await start_server(GatedEngine(), api_key="k-123")
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV) as r:
        await expect_error(r, 401, "invalid_api_key")
    wrong = {"Authorization": "Bearer k-124"}
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV, headers=wrong) as r:
        await expect_error(r, 401, "invalid_api_key")
    async with server.http.get(f"{server.url}/v1/models", headers=wrong) as r:
        await expect_error(r, 401, "invalid_api_key")
    for path in ("/healthz", "/readyz", "/metrics"):
        async with server.http.get(f"{server.url}{path}") as r:
            assert r.status == 200, path
    await still_serves(server, {"Authorization": "Bearer k-123"})


async def test_413_body_over_the_limit(start_server: StartServer) -> None:
    server = await start_server(GatedEngine(), max_body_mb=0.05)
    big = wav_bytes(3.0)  # ~96 kB > 52 kB
    async with server.http.post(f"{server.url}/v1/recognize", data=big) as r:
        await expect_error(r, 413, "payload_too_large")
    form = aiohttp.FormData()
    form.add_field("file", big, filename="big.wav")
    async with server.http.post(f"{server.url}/v1/audio/transcriptions", data=form) as r:
        await expect_error(r, 413, "payload_too_large")
    await still_serves(server)


async def test_415_404_405_render_the_json_error(start_server: StartServer) -> None:
    server = await start_server(GatedEngine())
    async with server.http.post(
        f"{server.url}/v1/recognize", data="hello", headers={"Content-Type": "text/plain"}
    ) as r:
        await expect_error(r, 415, "unsupported_media_type")
    async with server.http.post(f"{server.url}/v1/audio/transcriptions", json={"file": "x"}) as r:
        await expect_error(r, 415, "unsupported_media_type")
    async with server.http.get(f"{server.url}/nowhere") as r:
        await expect_error(r, 404, "not_found")
    async with server.http.get(f"{server.url}/v1/recognize") as r:
        await expect_error(r, 405, "method_not_allowed")
    await still_serves(server)


async def test_429_with_retry_after_when_queue_is_full(start_server: StartServer) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    server = await start_server(engine, max_concurrency=1, batch_max_size=1, max_queue=1)
    scheduler = server.app[SCHEDULER]

    async def post(first: float) -> aiohttp.ClientResponse:
        response = await server.http.post(
            f"{server.url}/v1/recognize", data=wav_bytes(0.2, first=first)
        )
        await response.read()
        return response

    busy = asyncio.create_task(post(0.1))
    await asyncio.to_thread(engine.started.acquire)
    queued = asyncio.create_task(post(0.2))
    while scheduler.queue_depth < 1:  # noqa: ASYNC110 - waits for the server's state
        await asyncio.sleep(0.01)
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status == 200  # a full queue is back-pressure (429), not unreadiness
    refused = await post(0.3)
    body = await expect_error(refused, 429, "queue_full")
    assert int(refused.headers["Retry-After"]) >= 1, body
    async with server.http.get(f"{server.url}/metrics") as r:
        assert "asr_saturated 1.0" in await r.text()
    engine.decode_gate.set()
    assert (await busy).status == 200
    assert (await queued).status == 200
    await still_serves(server)
    async with server.http.get(f"{server.url}/metrics") as r:
        assert "asr_saturated 0.0" in await r.text()


async def test_503_until_the_model_is_loaded(start_server: StartServer) -> None:
    engine = GatedEngine(loaded=False)
    server = await start_server(engine, ready=False)
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status == 503
        assert (await r.json())["status"] == "not_ready"
    async with server.http.get(f"{server.url}/healthz") as r:
        assert r.status == 200
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV) as r:
        await expect_error(r, 503, "not_ready")
    engine.load_gate.set()
    await wait_ready(server)
    await still_serves(server)


async def test_504_timeout_then_the_worker_is_free_again(start_server: StartServer) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    server = await start_server(engine, request_timeout_s=0.3, max_concurrency=1)
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV) as r:
        await expect_error(r, 504, "timeout")
    engine.decode_gate.set()
    await still_serves(server)
    assert server.app[SCHEDULER].decoding == 0


async def test_503_draining_while_in_flight_work_finishes(start_server: StartServer) -> None:
    engine = GatedEngine()
    engine.decode_gate.clear()
    server = await start_server(engine)
    in_flight = asyncio.create_task(server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV))
    await asyncio.to_thread(engine.started.acquire)
    draining = asyncio.create_task(drain(server.app, grace_s=30))
    await asyncio.sleep(0)
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status == 503
        assert (await r.json())["status"] == "draining"
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV) as r:
        await expect_error(r, 503, "draining")
    assert not draining.done()  # still waiting for the in-flight request
    engine.decode_gate.set()
    response = await in_flight
    assert response.status == 200
    assert await draining is True


class BrokenEngine(GatedEngine):
    """An engine with a bug: every batch raises."""

    def transcribe_batch(self, items: Any) -> Any:
        raise RuntimeError("engine bug")


async def test_500_on_an_engine_bug_is_json_and_logged(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(BrokenEngine())
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV) as r:
        body = await expect_error(r, 500, "internal_error")
    assert "engine bug" not in body["error"]["message"]  # internals stay in the log
    assert "engine bug" in caplog.text
    async with server.http.get(f"{server.url}/healthz") as r:
        assert r.status == 200


async def test_engine_rejection_is_400(start_server: StartServer) -> None:
    from asr_server.engines.fake import FakeEngine

    engine = FakeEngine()
    server = await start_server(engine)
    engine.fail_with = "cannot decode this"
    async with server.http.post(f"{server.url}/v1/recognize", data=GOOD_WAV) as r:
        body = await expect_error(r, 400, "engine_error")
    assert "cannot decode this" in body["error"]["message"]
    engine.fail_with = None
    await still_serves(server)


async def test_asrt_errors_keep_asrt_shape_and_http_status(start_server: StartServer) -> None:
    server = await start_server(GatedEngine())
    cases: list[tuple[dict[str, Any], str, int, int, str]] = [
        ({"json": {"sample_rate": 16000}}, "/all", 400, 400000, "invalid_field"),
        ({"json": {"samples": ""}}, "/speech", 400, 400001, "empty_audio"),
        ({"json": {"samples": "AAAA", "byte_width": 4}}, "/all", 400, 400002,
         "unsupported_audio_config"),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "/all", 400,
         400000, "invalid_json"),
        ({"data": b"x"}, "/all", 415, 400000, "unsupported_media_type"),
    ]  # fmt: skip
    for kwargs, path, status, asrt_code, code in cases:
        async with server.http.post(f"{server.url}{path}", **kwargs) as r:
            body = await r.json()
            assert r.status == status, body
        assert body["status_code"] == asrt_code, body
        assert body["error"]["code"] == code, body
        assert body["result"] == ""
    pcm = base64.urlsafe_b64encode(b"\x00\x01" * 8000).decode()
    async with server.http.post(f"{server.url}/all", json={"samples": pcm}) as r:
        ok = await r.json()
        assert r.status == 200, ok
    assert ok["status_code"] == 200000 and ok["status_message"] == "all level"
