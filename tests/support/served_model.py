"""Serve a model directory with a real `asr-server serve` process and transcribe a file: what a
pod does with a model that fetch-model put on its volume."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp

ASR_SERVER = Path(sys.executable).parent / "asr-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def transcribe_with(
    model_dir: Path, audio: bytes, log: Path, timeout_s: float = 300, user: int | None = None
) -> str:
    """Start the server on `model_dir`, POST `audio` (a file's bytes) to
    /v1/audio/transcriptions, stop the server; its log goes to `log`. `user`: run it as that
    uid and gid (a pod's runAsUser; needs root)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ASR_MODEL": str(model_dir),
        "ASR_MODEL_DIR": str(log.parent / "model-cache"),
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(port),
        "ASR_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",  # the model must be complete: nothing may come from a hub
    }
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(ASR_SERVER),
            "serve",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
            user=user,
            group=user,
        )
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(timeout_s):
            while not await _ready(http, url):
                if process.returncode is not None:
                    tail = (await asyncio.to_thread(log.read_text))[-2000:]
                    raise AssertionError(f"asr-server exited: {tail}")
                await asyncio.sleep(0.2)
            form = aiohttp.FormData()
            form.add_field("file", audio, filename="audio")
            form.add_field("model", "whisper-1")
            async with http.post(f"{url}/v1/audio/transcriptions", data=form) as response:
                assert response.status == 200, await response.text()
                text: str = (await response.json())["text"]
                return text
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def _ready(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(f"{url}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False
