"""Ops and bookkeeping over a real socket: /v1/models, /metrics, request ids and the
one-line request log (no audio, no key), the result cache, /v1/recognize/batch."""

from __future__ import annotations

import base64
import json
import logging

import aiohttp
import pytest
from asr_server.engines.fake import FakeEngine
from asr_server.keys import STATE
from asr_server.lifecycle import drain
from support.asr_http import StartServer, wav_bytes


async def test_models_lists_the_loaded_model_and_settings(start_server: StartServer) -> None:
    server = await start_server(
        FakeEngine(name="whisper-tiny.en"), max_concurrency=2, batch_max_size=3, max_queue=7
    )
    async with server.http.get(f"{server.url}/v1/models") as response:
        body = await response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["whisper-tiny.en", "whisper-1"]
    assert body["loaded"]["name"] == "whisper-tiny.en" and body["loaded"]["ready"]
    assert body["batching"]["max_batch_size"] == 3
    assert body["admission"]["max_concurrency"] == 2
    assert body["admission"]["max_queue"] == 7


async def test_request_id_log_line_and_metrics(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(FakeEngine(), api_key="never-logged-key")
    caplog.set_level(logging.INFO, logger="asr_server.request")
    audio = wav_bytes(2.0, freq=440)
    async with server.http.post(
        f"{server.url}/v1/recognize",
        data=audio,
        headers={"X-Request-ID": "req-42", "Authorization": "Bearer never-logged-key"},
    ) as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"] == "req-42"
    async with server.http.get(f"{server.url}/healthz") as response:
        generated = response.headers["X-Request-ID"]
        assert len(generated) >= 16

    lines = [r for r in caplog.records if r.name == "asr_server.request"]
    line = next(r for r in lines if getattr(r, "request_id", None) == "req-42")
    assert line.__dict__["route"] == "/v1/recognize"
    assert line.__dict__["status"] == 200
    assert line.__dict__["audio_seconds"] == pytest.approx(2.0, abs=0.01)
    assert line.__dict__["rtf"] > 0
    everything = caplog.text + "".join(json.dumps(r.__dict__, default=str) for r in lines)
    assert "never-logged-key" not in everything

    async with server.http.get(f"{server.url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    assert 'asr_requests_total{code="200",route="/v1/recognize"} 1.0' in text
    assert "asr_audio_seconds_total 2.0" in text
    assert "asr_realtime_factor_count 1.0" in text
    for name in (
        "asr_request_duration_seconds_bucket",
        "asr_inflight_requests",
        "asr_queue_depth",
        "asr_batch_size_bucket",
        "asr_queue_wait_seconds_bucket",
        "asr_model_load_seconds",
        "asr_cache_hits_total",
        "asr_cache_misses_total",
        "asr_stream_first_partial_seconds_bucket",
        "asr_stream_final_latency_seconds_bucket",
        "asr_active_streams",
    ):
        assert name in text, name


async def test_same_audio_in_another_container_is_a_cache_hit(start_server: StartServer) -> None:
    engine = FakeEngine()
    server = await start_server(engine, cache_entries=8)
    pcm = wav_bytes(1.0, freq=300)[44:]  # the same samples as raw PCM16
    async with server.http.post(f"{server.url}/v1/recognize", data=wav_bytes(1.0, freq=300)) as r:
        first = await r.json()
    body = {"audio": base64.b64encode(pcm).decode(), "format": "pcm16", "sample_rate": 16000}
    async with server.http.post(f"{server.url}/v1/recognize", json=body) as r:
        second = await r.json()
    async with server.http.post(
        f"{server.url}/v1/recognize?language=en", data=wav_bytes(1.0, freq=300)
    ) as r:
        assert (await r.json())["language"] == "en"
    assert first == second
    assert engine.calls == 2  # the JSON request was served from the cache; `en` was not
    async with server.http.get(f"{server.url}/metrics") as r:
        text = await r.text()
    assert "asr_cache_hits_total 1.0" in text and "asr_cache_misses_total 2.0" in text


async def test_batch_endpoint_isolates_a_bad_file(start_server: StartServer) -> None:
    server = await start_server(FakeEngine())
    form = aiohttp.FormData()
    form.add_field("file", wav_bytes(1.0), filename="one.wav")
    form.add_field("file", b"garbage" * 100, filename="bad.bin")
    form.add_field("file", wav_bytes(2.0), filename="two.wav")
    async with server.http.post(f"{server.url}/v1/recognize/batch", data=form) as response:
        results = await response.json()
        assert response.status == 200
    assert [r["file"] for r in results] == ["one.wav", "bad.bin", "two.wav"]
    assert results[0]["duration"] == pytest.approx(1.0, abs=0.01)
    assert results[1]["error"]["code"] == "undecodable_audio"
    assert results[2]["duration"] == pytest.approx(2.0, abs=0.01)
    async with server.http.post(
        f"{server.url}/v1/recognize/batch", data=aiohttp.FormData({"a": "b"})
    ) as response:
        assert response.status == 415


async def test_drain_runs_the_hooks_and_survives_a_failing_one(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(FakeEngine())
    called: list[str] = []

    async def finalise_streams() -> None:
        called.append("finalised")

    async def broken() -> None:
        raise RuntimeError("hook broke")

    server.app[STATE].on_drain.extend([broken, finalise_streams])
    assert await drain(server.app, grace_s=5) is True
    assert called == ["finalised"]
    assert "drain hook failed" in caplog.text
    async with server.http.get(f"{server.url}/readyz") as response:
        assert response.status == 503
