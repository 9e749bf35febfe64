"""The fleet in memory: listed from the API and scraped every round, in the background.

One round = one LIST each of SpeechRecognizers, HPAs and inference pods (however many
recognizers there are), then the load from the source: every server's `/metrics` at once
(bounded concurrency and a timeout each), or a fixed set of Prometheus queries
(prometheus.py) when one is configured; then one history point per recognizer. Pages read
the last round; they never wait for the API or the pods themselves, so any number of open
browsers cost one round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from asrfleet_operator.console.cluster import (
    HPAS,
    PODS,
    SERVER_PODS_SELECTOR,
    SPEECH_RECOGNIZERS,
    Cluster,
)
from asrfleet_operator.console.errors import Conflict, ConsoleError
from asrfleet_operator.console.load import (
    History,
    Load,
    MetricsError,
    Point,
    Sample,
    ScrapeRound,
    fleet_load,
    kept_samples,
    parse_sample,
)
from asrfleet_operator.console.prometheus import PrometheusLoads
from asrfleet_operator.console.settings import ConsoleSettings
from asrfleet_operator.console.views import URL_ANNOTATION, Summary, matches, summarize
from asrfleet_operator.render.labels import HTTP_PORT, selector_labels

log = logging.getLogger("asrfleet_operator.console.fleet")
SCRAPE_CONCURRENCY = 16
Key = tuple[str, str]


@dataclass(frozen=True)
class Row:
    summary: Summary
    load: Load | None


@dataclass(frozen=True)
class Snapshot:
    """The last round: when it finished (epoch seconds), its rows, and why it failed if it did
    (the rows are then the round before's)."""

    time: float
    rows: tuple[Row, ...]
    error: str | None = None


def override_url(recognizer: Mapping[str, Any], allowed: bool) -> str | None:
    if not allowed:
        return None
    annotations = (recognizer.get("metadata") or {}).get("annotations") or {}
    url = str(annotations.get(URL_ANNOTATION, "")).strip().rstrip("/")
    return url if url.startswith(("http://", "https://")) else None


def base_url(recognizer: Mapping[str, Any], settings: ConsoleSettings) -> str:
    """Where the Try-it requests go: the override when allowed, else the fleet's Service."""
    url = override_url(recognizer, settings.allow_url_override)
    if url is None:
        url = str((recognizer.get("status") or {}).get("url") or "").rstrip("/")
    if not url:
        raise Conflict("this recognizer has no status.url yet: the operator has not reconciled it")
    return url


def _pod_port(pod: Mapping[str, Any]) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == "http" and port.get("containerPort"):
                return int(port["containerPort"])
    return HTTP_PORT


def metrics_targets(
    recognizer: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], allow_override: bool
) -> list[str]:
    """The /metrics URLs of a recognizer's running servers."""
    url = override_url(recognizer, allow_override)
    if url is not None:
        return [f"{url}/metrics"]
    name = str((recognizer.get("metadata") or {}).get("name", ""))
    selector = selector_labels(name)
    targets = []
    for pod in pods:
        status = pod.get("status") or {}
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if matches(labels, selector) and status.get("phase") == "Running" and status.get("podIP"):
            targets.append(f"http://{status['podIP']}:{_pod_port(pod)}/metrics")
    return sorted(targets)


class LoadSource(Protocol):
    async def round(
        self, recognizers: Sequence[tuple[Key, Mapping[str, Any]]], pods: Sequence[Any]
    ) -> dict[Key, Load]:
        """Every recognizer's load now (one round)."""
        ...


class PodScrapes:
    """The load source that scrapes every recognizer's running servers itself."""

    def __init__(self, http: aiohttp.ClientSession, settings: ConsoleSettings) -> None:
        self.http = http
        self.settings = settings
        self.last: dict[Key, dict[str, Sample]] = {}
        self._limit = asyncio.Semaphore(SCRAPE_CONCURRENCY)

    async def round(
        self, recognizers: Sequence[tuple[Key, Mapping[str, Any]]], pods: Sequence[Any]
    ) -> dict[Key, Load]:
        allow = self.settings.allow_url_override
        rounds = await asyncio.gather(
            *(self._scrape_all(metrics_targets(r, pods, allow)) for _, r in recognizers)
        )
        loads = {}
        last = {}
        for (key, _), round_ in zip(recognizers, rounds, strict=True):
            previous = self.last.get(key, {})
            loads[key] = fleet_load(round_, previous)
            last[key] = kept_samples(round_, previous)
        self.last = last  # recognizers gone from the fleet are forgotten
        return loads

    async def _scrape_all(self, targets: list[str]) -> ScrapeRound:
        samples = await asyncio.gather(*(self._scrape(url) for url in targets))
        return ScrapeRound(dict(zip(targets, samples, strict=True)))

    async def _scrape(self, url: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.settings.scrape_timeout_seconds)
        async with self._limit:
            try:
                async with self.http.get(url, timeout=timeout) as response:
                    if response.status != 200:
                        return None
                    text = await response.text()
                return parse_sample(text, time.monotonic())
            except (aiohttp.ClientError, TimeoutError, MetricsError) as exc:
                log.debug("scraping %s failed: %s", url, exc)
                return None


class Fleet:
    def __init__(
        self, cluster: Cluster, http: aiohttp.ClientSession, settings: ConsoleSettings
    ) -> None:
        self.cluster = cluster
        self.settings = settings
        self.source: LoadSource = (
            PrometheusLoads(http, settings.prometheus_url, settings.prometheus_name_label,
                            settings.prometheus_window, settings.scrape_timeout_seconds)
            if settings.prometheus_url
            else PodScrapes(http, settings)
        )  # fmt: skip
        self.histories: dict[Key, History] = {}
        self.snapshot: Snapshot | None = None
        self.first_round = asyncio.Event()

    async def run(self) -> None:
        """Rounds until cancelled; a failed round is logged and the next one tries again."""
        while True:
            started = time.monotonic()
            try:
                await self.refresh()
            except Exception:  # a bug in one round must not stop the refreshing for good
                log.exception("a fleet round failed")
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.1, self.settings.scrape_seconds - elapsed))

    async def refresh(self) -> Snapshot:
        try:
            recognizers = await self.cluster.list_all(SPEECH_RECOGNIZERS)
            hpas = await self.cluster.list_all(HPAS)
            pods = await self.cluster.list_all(PODS, {"labelSelector": SERVER_PODS_SELECTOR})
        except ConsoleError as exc:
            log.warning("listing the fleet failed: %s", exc.message)
            kept = self.snapshot.rows if self.snapshot else ()
            self.snapshot = Snapshot(time.time(), kept, exc.message)
            self.first_round.set()
            return self.snapshot
        hpa_by_key = {_key(h): h for h in hpas}
        keyed = sorted(((_key(r), r) for r in recognizers), key=lambda kr: kr[0])
        try:
            loads: dict[Key, Load] = await self.source.round(keyed, pods)
            error = None
        except ConsoleError as exc:  # Prometheus down: the fleet still shows, without load
            log.warning("the load round failed: %s", exc.message)
            loads, error = {}, exc.message
        now = time.time()
        rows: list[Row] = []
        for key, recognizer in keyed:
            summary = summarize(recognizer, hpa_by_key.get(key))
            history = self.histories.get(key)
            if history is None:
                history = self.histories[key] = History(self.settings.history_points)
            load = loads.get(key)
            if load is not None:
                history.add(Point(now, load, summary.ready_replicas, summary.desired_replicas))
            rows.append(Row(summary, load))
        for gone in set(self.histories) - {key for key, _ in keyed}:
            del self.histories[gone]
        self.snapshot = Snapshot(now, tuple(rows), error)
        self.first_round.set()
        return self.snapshot

    async def latest(self, wait_seconds: float = 10.0) -> Snapshot:
        """The last round's snapshot, waiting for the first round once."""
        if self.snapshot is None:
            async with asyncio.timeout(wait_seconds):
                await self.first_round.wait()
        assert self.snapshot is not None
        return self.snapshot


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))
