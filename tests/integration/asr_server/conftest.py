"""A real asr-server on a real socket (127.0.0.1, ephemeral port) with an aiohttp client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine
from support.asr_http import Server, StartServer, start_server_on_socket, wait_ready


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """`await start_server(engine, ready=True, **config_fields)` -> Server."""
    runners: list[web.AppRunner] = []
    servers: list[Server] = []

    async def start(engine: ASREngine | None = None, ready: bool = True, **fields: Any) -> Server:
        config = ServerConfig(**{"engine": "fake", "batch_max_wait_ms": 0.0, **fields})
        server = await start_server_on_socket(engine, config, runners)
        servers.append(server)
        if ready:
            await wait_ready(server)
        return server

    yield start
    for server in servers:
        await server.http.close()
    for runner in runners:
        await runner.cleanup()
