"""A fault-injecting reverse proxy between a Kubernetes client and an API server (the emulator).

    async with running_fault_proxy(emu.url, FaultPlan(rate=0.2, seed=7)) as proxy:
        proxy.write_kubeconfig(path)        # the operator talks to proxy.url
        proxy.records                       # every request it saw, with the fault it got

Why a proxy and not kmock's own reactions: kmock answers a request from a reaction but still
applies the write to its objects (a 409 or 503 that changed the object), and it has no
connection resets, delays or rates. Here a fault is decided per request by a seeded random
generator (`FaultPlan.rate` of the requests get one) and happens where a real one would:

- before forwarding, nothing reaches the API server: 500/503, 409 on writes, 429 with
  `Retry-After`, a connection reset, 410 Gone at the start of a watch;
- a delay (`FaultPlan.delay`) before forwarding;
- after forwarding (the API server did the work, the client never hears of it): a reset
  instead of the response;
- a watch stream that is forwarded, then cut after a random time (`FaultPlan.cut_after`; of
  the watches that start without a fault, `rate` are cut).

`proxy.break_watches(seconds)` cuts every open watch and answers each new one 410 Gone for
that long (kopf 1.45.2's watch does not survive a 410 at its start). `accepted_tokens`
answers 401 to any other bearer token (credentials that expired). `set_plan` changes the plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)


class Fault(StrEnum):
    SERVER_ERROR = "5xx"  # 500 or 503, not forwarded
    CONFLICT = "409"  # writes only, not forwarded
    THROTTLE = "429"  # with Retry-After, not forwarded
    RESET = "reset"  # the connection is closed instead of an answer, not forwarded
    RESET_AFTER = "reset-after"  # forwarded, then the connection is closed: the answer is lost
    DELAY = "delay"  # forwarded after FaultPlan.delay seconds
    GONE = "410"  # watches only: 410 Gone at the start, not forwarded
    CUT = "cut"  # watches only: forwarded, then cut after FaultPlan.cut_after seconds


ALL_FAULTS = tuple(Fault)


@dataclass(frozen=True)
class FaultPlan:
    rate: float = 0.0
    """Share of the requests that get a fault (0 to 1)."""
    watch_rate: float | None = None
    """Share of the watch requests that get one (None: `rate`)."""
    seed: int = 0
    """Seed of the generator that picks the requests and their faults."""
    faults: tuple[Fault, ...] = ALL_FAULTS
    """The faults to choose from (those that do not apply to a request are skipped)."""
    delay: tuple[float, float] = (0.5, 2.0)
    """Range of an injected delay, seconds."""
    retry_after: int = 1
    """Retry-After of a 429, seconds."""
    cut_after: tuple[float, float] = (0.2, 3.0)
    """A cut watch stream is closed after this many seconds."""
    paths: tuple[str, ...] = ()
    """Only requests whose path contains one of these get faults (empty: all)."""


@dataclass
class Record:
    """One request as the proxy saw it."""

    at: float  # time.monotonic() on arrival, before any injected delay
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON of a write, else None
    fault: Fault | None
    status: int | None = None  # the API server's answer, when forwarded and answered
    unauthorized: bool = False  # answered 401 for a token not accepted

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch") in ("true", "1")

    @property
    def is_write(self) -> bool:
        return self.method in WRITES


@dataclass
class FaultProxy:
    upstream: str
    plan: FaultPlan
    accepted_tokens: set[str] | None = None
    """None: every token passes; else any other bearer token gets 401."""
    records: list[Record] = field(default_factory=list)
    url: str = ""
    gone_until: float = 0.0
    """time.monotonic() until which every new watch is answered 410 Gone."""
    gone_for: set[str] = field(default_factory=set)
    """Path parts whose next watch is answered 410 Gone, whenever it comes (then removed)."""
    _random: random.Random = field(init=False)
    _watches: dict[int, web.Request] = field(default_factory=dict)
    _injected: set[Fault] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.plan.seed)

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)
        self._injected.clear()

    def break_watches(self, seconds: float, *, at_least: Iterable[str] = ()) -> None:
        """Cut every open watch stream; answer every watch 410 Gone for `seconds`, and the next
        watch of each path part in `at_least` however late it comes (a loaded client may
        reconnect only after `seconds`)."""
        self.gone_until = time.monotonic() + seconds
        self.gone_for = set(at_least)
        for request in list(self._watches.values()):
            _reset(request)

    def faults(self) -> dict[Fault, int]:
        counts: dict[Fault, int] = {}
        for record in self.records:
            if record.fault is not None:
                counts[record.fault] = counts.get(record.fault, 0) + 1
        return counts

    def kubeconfig(self, token: str = "proxy") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "proxy", "user": {"token": token}}],
            "contexts": [
                {"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}},
            ],
            "current-context": "proxy",
        }

    def write_kubeconfig(self, path: Path, token: str = "proxy") -> Path:
        # A running operator rereads it when its token is refused: rename a whole file in.
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(yaml.safe_dump(self.kubeconfig(token)))
        partial.replace(path)
        return path

    def _pick(self, method: str, path: str, watch: bool) -> Fault | None:
        gone = time.monotonic() < self.gone_until or any(part in path for part in self.gone_for)
        if watch and gone:
            self.gone_for = {part for part in self.gone_for if part not in path}
            return Fault.GONE
        rate = self.plan.rate
        if watch and self.plan.watch_rate is not None:
            rate = self.plan.watch_rate
        if rate <= 0 or (self.plan.paths and not any(part in path for part in self.plan.paths)):
            return None
        if self._random.random() < rate:
            usable = [f for f in self.plan.faults if _applies(f, method, watch)]
            # Every kind before any twice: a run injects each one however few its requests
            # (watches are few, and which requests come first depends on timing).
            fresh = [f for f in usable if f not in self._injected]
            if usable:
                return self._injected_now(self._random.choice(fresh or usable))
        # A watch that starts well is cut later at the same rate: streams break on their own.
        cut_now = Fault.CUT not in self._injected or self._random.random() < rate
        if watch and Fault.CUT in self.plan.faults and cut_now:
            return self._injected_now(Fault.CUT)
        return None

    def _injected_now(self, fault: Fault) -> Fault:
        self._injected.add(fault)
        return fault

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        watch = request.query.get("watch") in ("true", "1")
        fault = self._pick(request.method, request.path, watch)
        record = Record(
            at=time.monotonic(),
            method=request.method,
            path=request.path,
            query=dict(request.query),
            body=_json(body) if request.method in WRITES else None,
            fault=fault,
        )
        self.records.append(record)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.accepted_tokens is not None and token not in self.accepted_tokens:
            record.unauthorized = True
            return _status(401, "Unauthorized", "the token is not valid (any more)")
        if fault is Fault.SERVER_ERROR:
            code = self._random.choice((500, 503))
            return _status(code, "InternalError", "injected server error")
        if fault is Fault.CONFLICT:
            return _status(409, "Conflict", "injected conflict: the object has been modified")
        if fault is Fault.THROTTLE:
            answer = _status(429, "TooManyRequests", "injected: slow down", self.plan.retry_after)
            answer.headers["Retry-After"] = str(self.plan.retry_after)
            return answer
        if fault is Fault.GONE:
            return _status(410, "Expired", "injected: too old resource version")
        if fault is Fault.RESET:
            return _reset(request)
        if fault is Fault.DELAY:
            await asyncio.sleep(self._random.uniform(*self.plan.delay))
        cut = self._random.uniform(*self.plan.cut_after) if fault is Fault.CUT else None
        return await self._forward(request, body, record, watch, cut)

    async def _forward(
        self, request: web.Request, body: bytes, record: Record, watch: bool, cut: float | None
    ) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        timeout = aiohttp.ClientTimeout(total=None if watch else 60)
        try:
            upstream = await self._session.request(
                request.method,
                self.upstream + request.path_qs,
                data=body or None,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
        except aiohttp.ClientError:
            return _reset(request)
        async with upstream:
            record.status = upstream.status
            if record.fault is Fault.RESET_AFTER:
                await upstream.read()
                return _reset(request)
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers[key] = value
            deadline = None if cut is None else time.monotonic() + cut
            if watch:
                self._watches[id(request)] = request
            try:
                await response.prepare(request)
                while True:
                    wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                    try:
                        chunk = await asyncio.wait_for(upstream.content.readany(), wait)
                    except TimeoutError:
                        return _reset(request)  # the cut: mid-stream, no clean end
                    if not chunk:
                        break
                    await response.write(chunk)
                await response.write_eof()
            except (ConnectionResetError, aiohttp.ClientError):
                pass  # the client went away, or break_watches() cut it
            finally:
                self._watches.pop(id(request), None)
            return response


def _applies(fault: Fault, method: str, watch: bool) -> bool:
    if fault is Fault.CONFLICT:
        return method in WRITES
    if fault is Fault.GONE:
        return watch
    if fault is Fault.CUT:
        return False  # drawn on its own for the watches that start well (FaultProxy._pick)
    if fault is Fault.RESET_AFTER:
        return not watch
    return True


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _status(code: int, reason: str, message: str, retry_after: int | None = None) -> web.Response:
    payload: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    if retry_after is not None:
        payload["details"] = {"retryAfterSeconds": retry_after}
    return web.json_response(payload, status=code)


def _reset(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.abort()  # no answer at all: the client sees a dropped connection
    return web.Response(status=500)  # never sent


@contextlib.asynccontextmanager
async def running_fault_proxy(
    upstream: str, plan: FaultPlan, accepted_tokens: Iterable[str] | None = None
) -> AsyncIterator[FaultProxy]:
    """Serve the proxy on 127.0.0.1:<free port> in front of `upstream` (a URL)."""
    proxy = FaultProxy(
        upstream=upstream.rstrip("/"),
        plan=plan,
        accepted_tokens=None if accepted_tokens is None else set(accepted_tokens),
    )
    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    proxy.url = f"http://{host}:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        proxy._session = session
        try:
            yield proxy
        finally:
            await runner.cleanup()


__all__ = ["ALL_FAULTS", "Fault", "FaultPlan", "FaultProxy", "Record", "running_fault_proxy"]
