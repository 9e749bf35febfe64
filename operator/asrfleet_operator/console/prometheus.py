"""Load figures from Prometheus instead of the pods (ASRFLEET_CONSOLE_PROMETHEUS_URL).

One round is a fixed set of instant queries over the whole fleet, grouped by `namespace` and
the label holding the recognizer's name (`service` with the Prometheus Operator's
ServiceMonitor, which the operator renders for `spec.monitoring`), however many recognizers
there are. The figures mean what they mean when scraped directly (load.py): API routes only,
latency only when API requests were served.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from asrfleet_operator.console.errors import UpstreamError
from asrfleet_operator.console.load import Load

Key = tuple[str, str]
API = 'route=~"/v1/.*"'


@dataclass(frozen=True)
class Queries:
    """The PromQL of one round, per figure."""

    by: str
    window: str

    def all(self) -> dict[str, str]:
        by, window = f"namespace, {self.by}", self.window

        def quantile(q: float, metric: str, selector: str = "") -> str:
            rate = f"rate({metric}_bucket{selector}[{window}])"
            return f"histogram_quantile({q}, sum by ({by}, le) ({rate}))"

        return {
            "requests_per_second": f"sum by ({by}) (rate(asr_requests_total{{{API}}}[{window}]))",
            "rejected_per_second": (
                f'sum by ({by}) (rate(asr_requests_total{{{API},code="429"}}[{window}]))'
            ),
            "latency_p50_seconds": quantile(0.5, "asr_request_duration_seconds", f"{{{API}}}"),
            "latency_p95_seconds": quantile(0.95, "asr_request_duration_seconds", f"{{{API}}}"),
            "realtime_factor_p50": quantile(0.5, "asr_realtime_factor"),
            "queue_depth": f"sum by ({by}) (asr_queue_depth)",
            "inflight": f"sum by ({by}) (asr_inflight_requests)",
            "active_streams": f"sum by ({by}) (asr_active_streams)",
            "servers_scraped": f"count by ({by}) (asr_queue_depth)",
        }


def vector(answer: Mapping[str, Any], by: str) -> dict[Key, float]:
    """An instant vector answer -> {(namespace, name): value}; NaN (no data) left out."""
    if answer.get("status") != "success":
        raise UpstreamError(f"Prometheus answered: {answer.get('error', answer)}")
    found: dict[Key, float] = {}
    for item in (answer.get("data") or {}).get("result") or []:
        labels = item.get("metric") or {}
        value = float(item.get("value", [0, "NaN"])[1])
        if not math.isnan(value):
            found[(str(labels.get("namespace", "")), str(labels.get(by, "")))] = value
    return found


def loads(figures: Mapping[str, Mapping[Key, float]], keys: Sequence[Key]) -> dict[Key, Load]:
    """Each recognizer's Load from the per-figure vectors (pure)."""
    result = {}
    for key in keys:
        value = {name: series.get(key) for name, series in figures.items()}
        served = (value["requests_per_second"] or 0) > 0
        result[key] = Load(
            requests_per_second=value["requests_per_second"],
            latency_p50_seconds=value["latency_p50_seconds"] if served else None,
            latency_p95_seconds=value["latency_p95_seconds"] if served else None,
            realtime_factor_p50=value["realtime_factor_p50"],
            queue_depth=value["queue_depth"] or 0.0,
            inflight=value["inflight"] or 0.0,
            active_streams=value["active_streams"] or 0.0,
            rejected_per_second=value["rejected_per_second"],
            servers_scraped=int(value["servers_scraped"] or 0),
        )
    return result


class PrometheusLoads:
    """The load source that asks Prometheus."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, by: str, window: str, timeout: float
    ) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.queries = Queries(by, window)
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def _query(self, promql: str) -> dict[Key, float]:
        try:
            async with self.http.get(
                f"{self.url}/api/v1/query", params={"query": promql}, timeout=self.timeout
            ) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise UpstreamError(f"Prometheus at {self.url} did not answer: {exc}") from None
        return vector(answer, self.queries.by)

    async def round(
        self, recognizers: Sequence[tuple[Key, Mapping[str, Any]]], pods: Sequence[Any]
    ) -> dict[Key, Load]:
        names = self.queries.all()
        answers = await asyncio.gather(*(self._query(q) for q in names.values()))
        return loads(dict(zip(names, answers, strict=True)), [key for key, _ in recognizers])
