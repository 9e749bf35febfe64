"""Helpers for HTTP tests of asr-server: a real server on a real socket, test audio."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import numpy as np
from aiohttp import web
from asr_server.app import create_app
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine
from asr_server.listen import Listener, listen


@dataclass
class Server:
    app: web.Application
    url: str
    http: aiohttp.ClientSession


StartServer = Callable[..., Awaitable[Server]]


async def wait_ready(server: Server, timeout_s: float = 120.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            async with server.http.get(f"{server.url}/readyz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.05)


async def start_server_on_socket(
    engine: ASREngine | None, config: ServerConfig, listeners: list[Listener]
) -> Server:
    """The app on 127.0.0.1 (a free port) behind the server's own listener (`listen.py`:
    the connection cap), as `asr-server serve` runs it."""
    app = create_app(config, engine)
    listener = await listen(app, "127.0.0.1", 0)
    listeners.append(listener)
    return Server(app, f"http://127.0.0.1:{listener.port}", aiohttp.ClientSession())


def wav_bytes(seconds: float, *, first: float = 0.0, rate: int = 16000, freq: float = 0.0) -> bytes:
    """A 16-bit mono WAV: silence (or a sine) with a chosen first sample."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    samples = 0.3 * np.sin(2 * np.pi * freq * t) if freq else np.zeros(n)
    if n:
        samples[0] = first
    pcm = (samples * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
