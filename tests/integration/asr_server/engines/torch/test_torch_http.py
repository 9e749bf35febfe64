"""The torch engine behind the real HTTP server on a real socket: ASR_ENGINE=torch through the
registry, hotwords through the API's `hotwords` field, word timings, and its refusals as 4xx
JSON errors."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from asr_server.config import ServerConfig
from asr_server.engines.torch.engine import TorchWhisperEngine
from asr_server.listen import Listener
from conftest import Clip
from support.asr_http import Server, StartServer, start_server_on_socket, wait_ready
from support.rare_words import RARE_SENTENCES, hotword_hits, speak
from support.text import word_error_rate

pytestmark = pytest.mark.model

PARAFORMER = RARE_SENTENCES[6]


async def post(server: Server, audio: bytes, **fields: str) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", audio, filename="audio.wav")
    form.add_field("model", "whisper-1")
    for name, value in fields.items():
        form.add_field(name.replace("__", "[]"), value)
    response = await server.http.post(f"{server.url}/v1/audio/transcriptions", data=form)
    await response.read()
    return response


async def test_asr_engine_torch_serves_jfk_word_for_word(
    torch_model_dir: Path, jfk_clip: Clip
) -> None:
    """ASR_ENGINE=torch: the registry builds the engine, the server loads and serves it."""
    config = ServerConfig(engine="torch", model="whisper-tiny.en", model_dir=torch_model_dir)
    listeners: list[Listener] = []
    server = await start_server_on_socket(None, config, listeners)
    try:
        await wait_ready(server)
        await check_jfk(server, jfk_clip)
    finally:
        await server.http.close()
        for listener in listeners:
            await listener.close()


async def check_jfk(server: Server, jfk_clip: Clip) -> None:
    response = await post(server, jfk_clip.path.read_bytes(), response_format="verbose_json")
    assert response.status == 200
    body = await response.json()
    assert word_error_rate(jfk_clip.transcript, body["text"]) == 0, body["text"]
    assert body["segments"] and body["language"] == "english"
    async with server.http.get(f"{server.url}/v1/models") as models:
        listed = await models.text()
    assert "whisper-tiny.en" in listed and '"torch"' in listed


async def test_hotwords_reach_the_decoder_through_the_api(
    start_server: StartServer, torch_tiny: TorchWhisperEngine, tmp_path: Path
) -> None:
    speak(PARAFORMER.text, tmp_path, "paraformer")
    wav = (tmp_path / "paraformer.wav").read_bytes()
    server = await start_server(torch_tiny)
    plain = await (await post(server, wav, language="en")).json()
    biased = await (await post(server, wav, language="en", hotwords="Paraformer:3")).json()
    assert hotword_hits(("Paraformer",), plain["text"]) == 0, plain["text"]
    assert hotword_hits(("Paraformer",), biased["text"]) == 1, biased["text"]


async def test_word_timings_come_back_in_verbose_json(
    start_server: StartServer, torch_tiny: TorchWhisperEngine, jfk_clip: Clip
) -> None:
    server = await start_server(torch_tiny)
    response = await post(
        server,
        jfk_clip.path.read_bytes(),
        response_format="verbose_json",
        timestamp_granularities__="word",
    )
    assert response.status == 200
    body = await response.json()
    words = body["words"]
    assert " ".join(w["word"].strip() for w in words) == body["text"].strip()
    assert all(w["start"] <= w["end"] for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)


async def test_a_request_the_engine_refuses_gets_a_400(
    start_server: StartServer, torch_tiny: TorchWhisperEngine, jfk_clip: Clip
) -> None:
    server = await start_server(torch_tiny)
    response = await post(server, jfk_clip.path.read_bytes(), hotwords="Paraformer:99")
    assert response.status == 400
    error = (await response.json())["error"]
    assert "score" in error["message"]
