"""The controller's kopf side: what kopf does for it, each handler a few lines.

kopf logs in (and again when credentials expire), watches the SpeechRecognizers and hands each
event to one handler (`changes.on_event`), watches the SpeechModels the same way
(`speech_models.on_speech_model_event`), and runs peering for HA. `register()` puts the
handlers on a registry, so the same code serves `python -m asrfleet_operator`, the in-process
integration tests and the benchmark. The rest of the control loop runs as background tasks
started and stopped with kopf: the Deployment watch (watch.py, status refresh), the download
Job watch (the same code; speech_models.py) and the resync sweep (sweep.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import kopf
from aiohttp import web

from asrfleet_operator.controller.changes import on_event
from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.reconcile import refresh_status_from_deployment
from asrfleet_operator.controller.speech_models import (
    JOBS,
    on_speech_model_event,
    refresh_from_job,
)
from asrfleet_operator.controller.sweep import sweep_loop
from asrfleet_operator.controller.watch import DeploymentWatch
from asrfleet_operator.metrics import start_endpoint
from asrfleet_operator.render.labels import GROUP, PLURAL, SPEECH_MODEL_PLURAL, VERSION

Login = Callable[[], kopf.ConnectionInfo | None]


def register(registry: kopf.OperatorRegistry, ctx: Context, login: Login) -> None:
    status_log = logging.getLogger("asrfleet_operator.status")

    async def refresh(deployment: dict[str, Any]) -> None:
        await refresh_status_from_deployment(ctx, deployment, status_log)

    async def job_changed(job: dict[str, Any]) -> None:
        await refresh_from_job(ctx, job, status_log)

    watch = DeploymentWatch(ctx.client, ctx.settings.namespaces, refresh)
    job_watch = DeploymentWatch(ctx.client, ctx.settings.namespaces, job_changed, resource=JOBS)
    background: list[asyncio.Task[None]] = []
    endpoint: list[web.AppRunner] = []

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Only explicit events (ours, and kopf's warnings) reach the API: kopf's per-handler
        # "succeeded" Events would be one more write per SpeechRecognizer event.
        settings.posting.level = logging.WARNING

    @kopf.on.login(registry=registry)
    async def authenticate(**_: Any) -> kopf.ConnectionInfo | None:
        info = login()
        if info is not None:
            ctx.client.update(info)
            await ctx.client.open()
        return info

    @kopf.on.startup(registry=registry)
    async def start_background(**_: Any) -> None:
        background.append(asyncio.create_task(watch.run(), name="asrfleet deployment watch"))
        background.append(asyncio.create_task(job_watch.run(), name="asrfleet job watch"))
        background.append(asyncio.create_task(sweep_loop(ctx), name="asrfleet resync sweep"))
        if ctx.settings.health_port:
            endpoint.append(await start_endpoint(ctx.settings.health_port, lambda: len(ctx.seen)))

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx.events.drain()
        await ctx.client.close()
        for runner in endpoint:
            await runner.cleanup()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def speech_recognizer_event(
        body: kopf.Body, type: str | None, logger: Any, **_: Any
    ) -> None:
        await on_event(ctx, body, type, logger)

    @kopf.on.event(GROUP, VERSION, SPEECH_MODEL_PLURAL, registry=registry)
    async def speech_model_event(body: kopf.Body, type: str | None, logger: Any, **_: Any) -> None:
        await on_speech_model_event(ctx, body, type, logger)
