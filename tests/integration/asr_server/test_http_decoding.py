"""The beam size a client chooses, through a real socket to the engine: the form field of
`/v1/audio/transcriptions`, the query and JSON fields of `/v1/recognize`, the batch route, the
stream's start message; the server's ASR_BEAM_SIZE where a request names none; a clear 400 (or
stream error) outside the bounds. The engine is a `GatedEngine`, which records the options of
every item it is given (the real model at each beam: test_http_model.py)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from asr_server.streaming.client import StreamRefused, stream_frames
from conftest import Clip
from support.asr_engines import GatedEngine
from support.asr_http import Server, StartServer, wav_bytes
from support.pcm import frames, load_16k, to_pcm16

pytestmark = pytest.mark.asyncio

SERVER_BEAM = 3
"""ASR_BEAM_SIZE of the servers here: not the default, so that an ignored setting shows."""


def engine_beams(engine: GatedEngine) -> list[int | None]:
    """The beam size of every item the engine decoded, in order."""
    return [options.beam_size for batch in engine.batches for _, options in batch]


def form(audio: bytes, **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", audio, filename="a.wav")
    for name, value in fields.items():
        data.add_field(name, value)
    return data


async def ok(response: aiohttp.ClientResponse) -> Any:
    body = await response.json()
    assert response.status == 200, body
    return body


async def test_every_route_hands_the_engine_its_beam_size_or_the_servers(
    start_server: StartServer,
) -> None:
    engine = GatedEngine()
    server = await start_server(engine, beam_size=SERVER_BEAM, cache_entries=0)
    url, http = server.url, server.http
    wav = wav_bytes(0.5, first=0.25)
    async with http.post(f"{url}/v1/audio/transcriptions", data=form(wav, beam_size="5")) as r:
        await ok(r)
    async with http.post(f"{url}/v1/audio/transcriptions", data=form(wav)) as r:
        await ok(r)
    async with http.post(f"{url}/v1/recognize?beam_size=4", data=wav) as r:
        await ok(r)
    async with http.post(f"{url}/v1/recognize", data=wav) as r:
        await ok(r)
    pcm = {"audio": "AAAAAA==", "format": "pcm16"}
    async with http.post(f"{url}/v1/recognize", json={**pcm, "beam_size": 2}) as r:
        await ok(r)
    async with http.post(f"{url}/v1/recognize?beam_size=7", json=pcm) as r:
        await ok(r)
    async with http.post(f"{url}/v1/recognize/batch", data=form(wav, beam_size="6")) as r:
        assert len(await ok(r)) == 1
    async with http.post(f"{url}/v1/recognize/batch?beam_size=8", data=form(wav)) as r:
        await ok(r)
    samples = {"samples": "AAAAAA==", "sample_rate": 16000}
    async with http.post(f"{url}/all", json=samples) as r:  # ASRT: no field, the server's
        await ok(r)
    assert engine_beams(engine) == [5, SERVER_BEAM, 4, SERVER_BEAM, 2, 7, 6, 8, SERVER_BEAM]


@pytest.mark.parametrize("value", ["0", "11", "-1", "five", "2.5", " "])
async def test_a_beam_size_outside_the_bounds_is_a_400_naming_it(
    start_server: StartServer, value: str
) -> None:
    engine = GatedEngine()
    server = await start_server(engine)
    url, http, wav = server.url, server.http, wav_bytes(0.5, first=0.25)
    requests = [
        http.post(f"{url}/v1/audio/transcriptions", data=form(wav, beam_size=value)),
        http.post(f"{url}/v1/recognize", data=wav, params={"beam_size": value}),
        http.post(f"{url}/v1/recognize/batch", data=form(wav, beam_size=value)),
        http.post(f"{url}/v1/recognize", json={"audio": "AAAAAA==", "beam_size": value}),
    ]
    for request in requests:
        async with request as r:
            body = await r.json()
            assert r.status == 400, body
            assert body["error"]["code"] == "invalid_field"
            assert "beam_size" in body["error"]["message"]
    assert engine.batches == []  # refused before any decode
    async with http.post(f"{url}/v1/recognize", data=wav) as r:
        await ok(r)  # and the server goes on serving


@pytest.mark.parametrize("value", [0, 11, 2.5, True, None])
async def test_json_beam_sizes_must_be_integers_in_bounds(
    start_server: StartServer, value: Any
) -> None:
    server = await start_server(GatedEngine())
    body = {"audio": "AAAAAA==", "format": "pcm16", "beam_size": value}
    async with server.http.post(f"{server.url}/v1/recognize", json=body) as r:
        if value is None:  # null: not chosen
            await ok(r)
            return
        error = (await r.json())["error"]
        assert r.status == 400 and error["code"] == "invalid_field", error
        assert "beam_size" in error["message"]


def stream_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/v1/stream"


async def test_a_streams_finals_take_its_beam_size_and_its_partials_are_greedy(
    start_server: StartServer, jfk_clip: Clip
) -> None:
    engine = GatedEngine()  # no stream-quality policy: the generic one (streaming/quality.py)
    server = await start_server(engine, beam_size=SERVER_BEAM)
    speech = frames(to_pcm16(load_16k(jfk_clip.path)))
    for asked, expected in ((6, 6), (None, SERVER_BEAM)):
        engine.batches.clear()
        outcome = await stream_frames(stream_url(server), speech, speed=4, beam_size=asked)
        finals, partials = outcome.of("final"), outcome.of("partial")
        assert finals and partials, outcome.received
        beams = engine_beams(engine)
        assert set(beams) == {1, expected}, beams  # partials greedy, finals the stream's
        assert beams.count(expected) >= len(finals)


async def test_a_stream_asking_for_a_beam_out_of_bounds_is_refused(
    start_server: StartServer,
) -> None:
    server = await start_server(GatedEngine())
    async with aiohttp.ClientSession() as http, http.ws_connect(stream_url(server)) as ws:
        await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000, "beam_size": 11}))
        message = json.loads((await ws.receive()).data)
    assert message["type"] == "error" and message["code"] == "invalid_field"
    assert "beam_size" in message["message"]
    with pytest.raises(StreamRefused):
        await stream_frames(stream_url(server), [], speed=0, beam_size=0)
