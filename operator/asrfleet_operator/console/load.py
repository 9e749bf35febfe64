"""Live load of a fleet from its servers' own `/metrics` (pure: text in, figures out).

A scrape of one server becomes a `Sample` (cumulative counters and histogram buckets, current
gauges); two samples of the same server a moment apart give rates and latency quantiles over
that moment, and the fleet's figure sums (or merges the buckets of) its servers. The metric
names are the inference server's contract in docs/server-api.md "Metrics" (prefix `asr_`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

API_ROUTE_PREFIX = "/v1/"
"""Only API routes count as requests: probes and the console's own scrapes are not load."""
REJECTED_CODE = "429"


@dataclass(frozen=True)
class Sample:
    """One server's cumulative counters and current gauges at `time` (monotonic seconds)."""

    time: float
    requests: float = 0.0
    rejected: float = 0.0
    duration_buckets: tuple[tuple[float, float], ...] = ()
    """(upper bound, cumulative count) of asr_request_duration_seconds on API routes (its
    `route` label; WebSocket streams are not in it), summed over routes, sorted by bound."""
    rtf_buckets: tuple[tuple[float, float], ...] = ()
    """(upper bound, cumulative count) of asr_realtime_factor."""
    inflight: float = 0.0
    queue_depth: float = 0.0
    active_streams: float = 0.0


@dataclass(frozen=True)
class Load:
    """A fleet's load over the last scrape interval (None: not measurable yet)."""

    requests_per_second: float | None = None
    latency_p50_seconds: float | None = None
    latency_p95_seconds: float | None = None
    realtime_factor_p50: float | None = None
    queue_depth: float = 0.0
    inflight: float = 0.0
    active_streams: float = 0.0
    rejected_per_second: float | None = None
    servers_scraped: int = 0
    servers_failed: int = 0


@dataclass(frozen=True)
class Point:
    """One entry of a recognizer's history: when (wall clock), its load and replicas."""

    time: float
    load: Load
    ready_replicas: int
    desired_replicas: int


class MetricsError(ValueError):
    """A /metrics answer that is not Prometheus text."""


def parse_sample(text: str, time: float) -> Sample:
    """The figures the console uses from one server's Prometheus text."""
    requests = rejected = inflight = queue = streams = 0.0
    duration: dict[float, float] = {}
    rtf: dict[float, float] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, TypeError) as exc:
        raise MetricsError(f"not Prometheus text: {exc}") from None
    for family in families:
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == "asr_requests_total":
                if labels.get("route", "").startswith(API_ROUTE_PREFIX):
                    requests += value
                    if labels.get("code") == REJECTED_CODE:
                        rejected += value
            elif name == "asr_request_duration_seconds_bucket":
                if labels.get("route", "").startswith(API_ROUTE_PREFIX):
                    bound = _bound(labels.get("le", "+Inf"))
                    duration[bound] = duration.get(bound, 0.0) + value
            elif name == "asr_realtime_factor_bucket":
                bound = _bound(labels.get("le", "+Inf"))
                rtf[bound] = rtf.get(bound, 0.0) + value
            elif name == "asr_inflight_requests":
                inflight += value
            elif name == "asr_queue_depth":
                queue += value
            elif name == "asr_active_streams":
                streams += value
    return Sample(
        time=time,
        requests=requests,
        rejected=rejected,
        duration_buckets=tuple(sorted(duration.items())),
        rtf_buckets=tuple(sorted(rtf.items())),
        inflight=inflight,
        queue_depth=queue,
        active_streams=streams,
    )


def _bound(le: str) -> float:
    return math.inf if le in ("+Inf", "Inf") else float(le)


def _delta(now: float, before: float) -> float:
    # A counter that went down is a restarted server: everything since the restart is new.
    return now - before if now >= before else now


def _bucket_delta(
    now: Iterable[tuple[float, float]], before: Iterable[tuple[float, float]]
) -> dict[float, float]:
    earlier = dict(before)
    return {bound: _delta(count, earlier.get(bound, 0.0)) for bound, count in now}


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q.
    None when the buckets count nothing."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bound: the best known figure
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass(frozen=True)
class ScrapeRound:
    """A fleet's servers in one round: this round's sample per server (None: it failed)."""

    samples: Mapping[str, Sample | None]


def fleet_load(current: ScrapeRound, previous: Mapping[str, Sample]) -> Load:
    """The fleet's load from this round and each server's previous sample. Rates need a
    previous sample of the same server; gauges are this round's sums."""
    ok = {target: s for target, s in current.samples.items() if s is not None}
    failed = len(current.samples) - len(ok)
    gauges = {
        "queue_depth": sum(s.queue_depth for s in ok.values()),
        "inflight": sum(s.inflight for s in ok.values()),
        "active_streams": sum(s.active_streams for s in ok.values()),
    }
    pairs = [(s, previous[t]) for t, s in ok.items() if t in previous and s.time > previous[t].time]
    if not pairs:
        return Load(servers_scraped=len(ok), servers_failed=failed, **gauges)
    requests = rejected = seconds = 0.0
    duration: dict[float, float] = {}
    rtf: dict[float, float] = {}
    for now, before in pairs:
        requests += _delta(now.requests, before.requests)
        rejected += _delta(now.rejected, before.rejected)
        seconds = max(seconds, now.time - before.time)
        for bound, count in _bucket_delta(now.duration_buckets, before.duration_buckets).items():
            duration[bound] = duration.get(bound, 0.0) + count
        for bound, count in _bucket_delta(now.rtf_buckets, before.rtf_buckets).items():
            rtf[bound] = rtf.get(bound, 0.0) + count
    served = requests > 0
    return Load(
        requests_per_second=requests / seconds,
        latency_p50_seconds=quantile(0.5, duration) if served else None,
        latency_p95_seconds=quantile(0.95, duration) if served else None,
        realtime_factor_p50=quantile(0.5, rtf),
        rejected_per_second=rejected / seconds,
        servers_scraped=len(ok),
        servers_failed=failed,
        **gauges,
    )


def kept_samples(round_: ScrapeRound, last: Mapping[str, Sample]) -> dict[str, Sample]:
    """Each server's sample to compare the next round with: this round's, or the older one
    when this scrape failed; servers gone from the fleet are forgotten."""
    return {
        target: sample or last[target]
        for target, sample in round_.samples.items()
        if sample is not None or target in last
    }


@dataclass
class History:
    """A recognizer's recent points, a bounded ring."""

    capacity: int
    points: deque[Point] = field(init=False)

    def __post_init__(self) -> None:
        self.points = deque(maxlen=self.capacity)

    def add(self, point: Point) -> None:
        self.points.append(point)

    @property
    def latest(self) -> Load | None:
        return self.points[-1].load if self.points else None
