"""The operator process around kopf: log in, wait to lead (with a Lease), run kopf with the
control loop while leading, restart kopf when it fails, step down when the Lease lapses, stop
on SIGTERM/SIGINT.

- **One writer.** With `ASRFLEET_LEASE_NAME` set, a replica runs kopf (the SpeechRecognizer
  watch and handlers, and with them the Deployment watch and the sweep) only while it holds
  the Lease (leader.py). The client refuses every write while it does not (`may_write`), so
  nothing a stopping kopf still does reaches the API. When renewals lapse, kopf is stopped
  and the replica campaigns again; the caches are dropped at each new term (the other
  replica wrote meanwhile). Without a Lease name, the process leads from the start.
- **kopf is supervised.** kopf 1.45.2 stops with an error when a watch request is answered
  with an HTTP error at its start (410 Gone, other 4xx, 5xx after its own retries) or with an
  in-stream ERROR other than 410; `kopf.operator()` raises it. The process does not exit:
  kopf is started again after a jittered backoff (1 s doubling to 30 s, back to 1 s after a
  run of 60 s), which lists everything again, as a 410 requires. See docs/operator.md
  ("API faults") for the report this is the workaround of.
- **Signals.** kopf installs its own SIGTERM/SIGINT handlers whenever it starts (they would
  stop kopf, not the process), so kopf is started with `kopf.spawn_tasks()` and
  `kopf.run_tasks()`, the two public halves of `kopf.operator()`, and ours are installed
  again in between.
- The health endpoint serves for the whole process (a standby is alive too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import socket
import uuid
from typing import Any

import kopf
from aiohttp import web

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.handlers import register
from asrfleet_operator.controller.leader import LeaseElector
from asrfleet_operator.kube import KubeClient, Login, RetryPolicy
from asrfleet_operator.metrics import KOPF_RESTARTS, LEADER, start_endpoint
from asrfleet_operator.settings import Settings

logger = logging.getLogger(__name__)
RESTART_BACKOFF = (1.0, 30.0)  # first and longest wait before kopf is started again
STABLE_RUN_SECONDS = 60.0  # a kopf run this long resets the backoff
KOPF_STOP_SECONDS = 15.0  # a graceful stop of kopf that takes longer is cancelled


class LoginError(RuntimeError):
    """No credentials: neither an in-cluster service account nor a kube config."""


def identity() -> str:
    """This replica's name in the Lease: the pod name (the host name) and a random suffix."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class OperatorProcess:
    """One operator process; `run()` until `stop` is set (or a signal arrives)."""

    def __init__(self, settings: Settings, login: Login, *, handle_signals: bool = False) -> None:
        self.settings = settings
        self.login = login
        self.handle_signals = handle_signals
        retry = RetryPolicy(max_retry_after=settings.max_retry_after_seconds)
        client = KubeClient(
            request_timeout=settings.request_timeout_seconds, retry=retry, relogin=login
        )
        self.ctx = Context(settings=settings, client=client)
        self.registry = kopf.OperatorRegistry()
        register(self.registry, self.ctx, login)
        self.elector: LeaseElector | None = None
        self.kopf_runs = 0
        self._term: str | None = None  # the Lease's acquireTime of the last term led

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        info = self.login()
        if info is None:
            raise LoginError(
                "no Kubernetes credentials: no in-cluster service account and no kube config"
                " (KUBECONFIG or ~/.kube/config)"
            )
        self.ctx.client.update(info)
        self._install_signal_handlers(stop)
        endpoint = await self._start_endpoint()
        campaign: asyncio.Task[None] | None = None
        if self.settings.lease_name:
            self.elector = self._elector(info)
            self.ctx.client.may_write = self.elector.is_leader
            campaign = asyncio.create_task(self.elector.run(), name="asrfleet leader election")
        try:
            while not stop.is_set():
                if self.elector is not None:
                    LEADER.set(0)
                    if not await _first(self.elector.wait_leading(), stop):
                        break
                LEADER.set(1)
                term = self.elector.term if self.elector is not None else "only"
                if term != self._term:  # another replica may have led meanwhile
                    self.ctx.forget()
                    self._term = term
                await self._lead(stop, ready)
        finally:
            LEADER.set(0)
            if campaign is not None:
                campaign.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await campaign
            await self.ctx.events.drain(within=5.0)
            if self.elector is not None:
                await self.elector.release()
                await self.elector.client.close()
            await self.ctx.client.close()
            if endpoint is not None:
                await endpoint.cleanup()

    def _elector(self, info: kopf.ConnectionInfo) -> LeaseElector:
        settings = self.settings
        # Its own client: renewals never queue behind the control loop's requests, and they are
        # not subject to the write gate they decide. One try per request, each within a third
        # of the renew deadline: a failed round is retried soon (leader.py), so several fit.
        client = KubeClient(
            info,
            request_timeout=min(settings.request_timeout_seconds, settings.lease_seconds * 2 / 9),
            retry=RetryPolicy(attempts=1),
            relogin=self.login,
        )
        return LeaseElector(
            client,
            settings.lease_namespace or info.default_namespace or "default",
            settings.lease_name,
            identity(),
            lease_seconds=settings.lease_seconds,
            retry_seconds=settings.lease_retry_seconds,
        )

    async def _lead(self, stop: asyncio.Event, ready: asyncio.Event | None) -> None:
        """Run kopf while leading; start it again when it fails."""
        loop = asyncio.get_running_loop()
        delay = RESTART_BACKOFF[0]
        while not stop.is_set() and self._leading():
            kopf_stop = asyncio.Event()
            started = loop.time()
            self.kopf_runs += 1
            run = asyncio.create_task(self._kopf(kopf_stop, stop, ready), name="kopf")
            await self._until_ended(run, stop)
            if not run.done():  # told to stop, or leadership lapsed
                await _stop_kopf(run, kopf_stop)
                return
            failure = None if run.cancelled() else run.exception()
            KOPF_RESTARTS.inc()
            if loop.time() - started >= STABLE_RUN_SECONDS:
                delay = RESTART_BACKOFF[0]
            wait = random.uniform(delay / 2, delay)
            logger.error(f"kopf stopped with {failure!r}; starting it again in {wait:.1f}s")
            await _first(asyncio.sleep(wait), stop)
            delay = min(delay * 2, RESTART_BACKOFF[1])

    async def _kopf(
        self, kopf_stop: asyncio.Event, stop: asyncio.Event, ready: asyncio.Event | None
    ) -> None:
        """`kopf.operator()` in its two public halves, so that the signal handlers kopf installs
        in between are replaced by ours at once: a signal stops the process, not only kopf."""
        existing = asyncio.all_tasks()  # kopf cancels what appears after it at its exit
        tasks = await kopf.spawn_tasks(
            registry=self.registry,
            clusterwide=self.settings.clusterwide,
            namespaces=self.settings.namespaces,
            standalone=True,  # the Lease decides who works, not kopf's peering
            liveness_endpoint=None,  # /healthz is served with /metrics by metrics.py
            stop_flag=kopf_stop,
            ready_flag=ready,
        )
        self._install_signal_handlers(stop)
        await kopf.run_tasks(tasks, ignored=existing)
        if not kopf_stop.is_set():
            raise RuntimeError("kopf stopped on its own")

    def _leading(self) -> bool:
        return self.elector is None or self.elector.is_leader()

    async def _until_ended(self, run: asyncio.Task[None], stop: asyncio.Event) -> None:
        """Wait until kopf ends, `stop` is set, or leadership lapsed and was not regained
        within the elector's grace period (writes are refused from the lapse on; kopf only
        reads meanwhile, and stops before another replica could have taken over)."""
        elector = self.elector
        while True:
            lapsed = elector.wait_lost() if elector is not None else asyncio.Event().wait()
            if not await _first_of(run, stop, lapsed) or elector is None:
                return
            regained = asyncio.wait_for(elector.wait_leading(), elector.grace)
            if not await _first_of(run, stop, regained):
                return
            logger.info("leading again within the grace period: kopf goes on")

    async def _start_endpoint(self) -> web.AppRunner | None:
        if not self.settings.health_port:
            return None
        return await start_endpoint(self.settings.health_port, lambda: len(self.ctx.seen))

    def _install_signal_handlers(self, stop: asyncio.Event) -> None:
        if not self.handle_signals:
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)


async def _stop_kopf(run: asyncio.Task[None], kopf_stop: asyncio.Event) -> None:
    kopf_stop.set()
    done, _ = await asyncio.wait({run}, timeout=KOPF_STOP_SECONDS)
    if not done:
        run.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await run


async def _first_of(run: asyncio.Task[None], stop: asyncio.Event, work: Any) -> bool:
    """Await the coroutine `work` unless `run` ends or `stop` is set first; True if `work`
    returned (an exception, e.g. a timeout, counts as not returned)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper, run}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in (task, stopper):
            if not waiter.done():
                waiter.cancel()
    return bool(task.done() and not task.cancelled() and task.exception() is None)


async def _first(work: object, stop: asyncio.Event) -> bool:
    """Await `work` (a coroutine) unless `stop` is set first; True if `work` finished."""
    task = asyncio.ensure_future(work)  # type: ignore[call-overload]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in (task, stopper):
            if not waiter.done():
                waiter.cancel()
    return bool(task.done() and not task.cancelled())
