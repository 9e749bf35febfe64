"""The operator's API client talking to a scripted aiohttp app served on a real port (unit
tests of what the client and its callers do with given answers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import kopf
from aiohttp import web
from aiohttp.test_utils import TestServer
from asrfleet_operator.kube import KubeClient


@contextlib.asynccontextmanager
async def client_for(app: web.Application, **client_args: Any) -> AsyncIterator[KubeClient]:
    """A KubeClient (`client_args` passed on) for `app`, served until the block ends."""
    async with TestServer(app) as server:
        info = kopf.ConnectionInfo(server=str(server.make_url("/")), insecure=True)
        client = KubeClient(info, **client_args)
        try:
            yield client
        finally:
            await client.close()
