"""kopf handlers only; each a few lines calling reconcile.py.

`register()` puts them on a registry with the intervals from Settings, so the same code serves
`python -m asrfleet_operator`, the in-process integration tests and the benchmark.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import kopf

from asrfleet_operator.reconcile import Context, reconcile, refresh_status_from_deployment
from asrfleet_operator.render.labels import GROUP, MANAGER, PLURAL, VERSION

Login = Callable[[], kopf.ConnectionInfo | None]


def register(registry: kopf.OperatorRegistry, ctx: Context, login: Login) -> None:
    interval = ctx.settings.resync_seconds

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Only explicit events (ours, and kopf's warnings) reach the API: kopf's per-handler
        # "succeeded" events would be a write on every timer tick.
        settings.posting.level = logging.WARNING
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.execution.max_workers = 20

    @kopf.on.login(registry=registry)
    async def authenticate(**_: Any) -> kopf.ConnectionInfo | None:
        info = login()
        if info is not None:
            ctx.client.update(info)
            await ctx.client.open()
        return info

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        await ctx.client.close()

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    async def create(body: kopf.Body, patch: kopf.Patch, logger: Any, **_: Any) -> None:
        await reconcile(ctx, body, patch, logger, fresh=True)

    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec", registry=registry)
    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    async def converge(body: kopf.Body, patch: kopf.Patch, logger: Any, **_: Any) -> None:
        await reconcile(ctx, body, patch, logger)

    @kopf.timer(
        GROUP, VERSION, PLURAL, interval=interval, initial_delay=interval, registry=registry
    )
    async def correct_drift(body: kopf.Body, patch: kopf.Patch, logger: Any, **kw: Any) -> None:
        if not kw.get("stopped"):  # a tick racing the object's deletion has nothing to correct
            await reconcile(ctx, body, patch, logger, drift_check=True)

    _drop_finalizer(registry, correct_drift)

    @kopf.on.event(
        "apps",
        "v1",
        "deployments",
        labels={"app.kubernetes.io/managed-by": MANAGER},
        registry=registry,
    )
    async def deployment_changed(body: kopf.Body, type: str | None, logger: Any, **_: Any) -> None:
        if type in ("ADDED", "MODIFIED", None):
            await refresh_status_from_deployment(ctx, body, logger)


def _drop_finalizer(registry: kopf.OperatorRegistry, fn: Callable[..., Any]) -> None:
    """kopf puts a finalizer on every object that has a timer, to stop the timer before the
    object goes. The drift timer keeps no state and skips a stopped tick, so it needs none:
    without it, each SpeechRecognizer costs one PATCH and one watch event less, and kopf
    removes the finalizer from objects an older version had put it on. kopf has no public
    switch for this (`requires_finalizer` is hard-coded in `kopf.timer`)."""
    spawning = registry._spawning
    spawning._handlers = [
        dataclasses.replace(h, requires_finalizer=False) if h.fn is fn else h
        for h in spawning._handlers
    ]
