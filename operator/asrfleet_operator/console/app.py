"""The console's aiohttp app factory: settings in, app out; resources live in cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import kopf
from aiohttp import web

from asrfleet_operator.console import routes
from asrfleet_operator.console.access import AccessReviewer
from asrfleet_operator.console.auth import (
    Credentials,
    Handler,
    make_auth_middleware,
    security_headers,
)
from asrfleet_operator.console.cluster import Cluster
from asrfleet_operator.console.errors import ConsoleError, status_of
from asrfleet_operator.console.fleet import Fleet
from asrfleet_operator.console.keys import CLUSTER, CREDENTIALS, FLEET, HTTP, REVIEWER, SETTINGS
from asrfleet_operator.console.settings import ConsoleSettings
from asrfleet_operator.kube import KubeClient

log = logging.getLogger("asrfleet_operator.console")


def error_response(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ConsoleError as exc:
        return error_response(exc.code, exc.message, status_of(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.reason.lower().replace(" ", "_"), exc.reason, exc.status)


def create_app(settings: ConsoleSettings, connection: kopf.ConnectionInfo) -> web.Application:
    credentials = Credentials(settings.token)
    app = web.Application(
        client_max_size=int(settings.max_upload_mb * 1_000_000) + 64 * 1024,
    )
    auth = make_auth_middleware(credentials, lambda: app.get(REVIEWER))
    app.middlewares.extend([security_headers, errors_middleware, auth])
    app[SETTINGS] = settings
    app[CREDENTIALS] = credentials
    routes.setup(app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        client = KubeClient(connection)
        await client.open()
        http = aiohttp.ClientSession()
        cluster = Cluster(client, settings.namespaces)
        if settings.auth == "kubernetes":
            app[REVIEWER] = AccessReviewer(client, settings.access_cache_seconds)
        fleet = Fleet(cluster, http, settings)
        app[CLUSTER], app[HTTP], app[FLEET] = cluster, http, fleet
        rounds = asyncio.create_task(fleet.run(), name="console fleet rounds")
        yield
        rounds.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rounds
        await http.close()
        await client.close()

    app.cleanup_ctx.append(resources)
    return app
