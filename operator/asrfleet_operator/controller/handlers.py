"""The controller's kopf side: what kopf does for it, each handler a few lines.

kopf logs in (and again when credentials expire), watches the SpeechRecognizers and hands each
event to one handler (`changes.on_event`), watches the SpeechModels the same way
(`speech_models.on_speech_model_event`). `register()` puts the handlers on a registry, so the
same code serves `python -m asrfleet_operator` (through runtime.py, which runs kopf only while
this replica leads and restarts it when it fails), the in-process integration tests and the
benchmark. The rest of the control loop runs as background tasks started and stopped with
kopf: the Deployment watch (watch.py, status refresh), the download Job watch (the same code;
speech_models.py) and the resync sweep (sweep.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import kopf

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
from asrfleet_operator.render.labels import GROUP, PLURAL, SPEECH_MODEL_PLURAL, VERSION

Login = Callable[[], kopf.ConnectionInfo | None]
WATCH_SERVER_TIMEOUT = 300  # seconds a watch request asks the API server to keep it open
EVENTS_DRAIN_SECONDS = 5.0  # kopf cancels what still runs 5 s after its own tasks stopped


def configure_kopf(settings: kopf.OperatorSettings, request_timeout: float) -> None:
    """kopf's own requests and watches, with the same bounds as the operator's client."""
    # Only explicit events (ours, and kopf's warnings) reach the API: kopf's per-handler
    # "succeeded" Events would be one more write per SpeechRecognizer event.
    settings.posting.level = logging.WARNING
    settings.networking.request_timeout = request_timeout
    settings.networking.connect_timeout = min(10.0, request_timeout)
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT
    settings.watching.client_timeout = WATCH_SERVER_TIMEOUT + request_timeout
    settings.watching.connect_timeout = min(10.0, request_timeout)
    # kopf 1.45.2 arms a SIGKILL of the process, 10 minutes later, whenever it stops for any
    # reason but its stop flag (a failed watch included). runtime.py restarts kopf after such
    # a failure, so that timer would kill a healthy operator; the process exits on its own.
    settings.process.ultimate_exiting_timeout = None


def register(registry: kopf.OperatorRegistry, ctx: Context, login: Login) -> None:
    status_log = logging.getLogger("asrfleet_operator.status")

    async def refresh(deployment: dict[str, Any]) -> None:
        async with ctx.slots:
            await refresh_status_from_deployment(ctx, deployment, status_log)

    async def job_changed(job: dict[str, Any]) -> None:
        await refresh_from_job(ctx, job, status_log)

    background: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_kopf(settings, ctx.settings.request_timeout_seconds)

    @kopf.on.login(registry=registry)
    async def authenticate(**_: Any) -> kopf.ConnectionInfo | None:
        info = login()
        if info is not None:
            ctx.client.update(info)
            await ctx.client.open()
        return info

    @kopf.on.startup(registry=registry)
    async def start_background(**_: Any) -> None:
        watch = DeploymentWatch(ctx.client, ctx.settings.namespaces, refresh)
        job_watch = DeploymentWatch(ctx.client, ctx.settings.namespaces, job_changed, resource=JOBS)
        background.append(asyncio.create_task(watch.run(), name="asrfleet deployment watch"))
        background.append(asyncio.create_task(job_watch.run(), name="asrfleet job watch"))
        background.append(asyncio.create_task(sweep_loop(ctx), name="asrfleet resync sweep"))

    @kopf.on.cleanup(registry=registry)
    async def stop_background(**_: Any) -> None:
        while background:
            task = background.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx.events.drain(within=EVENTS_DRAIN_SECONDS)

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def speech_recognizer_event(
        body: kopf.Body, type: str | None, logger: Any, **_: Any
    ) -> None:
        await on_event(ctx, body, type, logger)

    @kopf.on.event(GROUP, VERSION, SPEECH_MODEL_PLURAL, registry=registry)
    async def speech_model_event(body: kopf.Body, type: str | None, logger: Any, **_: Any) -> None:
        await on_speech_model_event(ctx, body, type, logger)
