"""The Prometheus load source's pure parts: the queries and the answers' parsing."""

from __future__ import annotations

import pytest
from asrfleet_operator.console.errors import UpstreamError
from asrfleet_operator.console.prometheus import Queries, loads, vector


def answer(*series: tuple[dict[str, str], str]) -> dict[str, object]:
    result = [{"metric": labels, "value": [1700000000.0, value]} for labels, value in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_queries_group_by_namespace_and_the_name_label() -> None:
    queries = Queries("service", "2m").all()
    assert queries["requests_per_second"] == (
        'sum by (namespace, service) (rate(asr_requests_total{route=~"/v1/.*"}[2m]))'
    )
    assert queries["latency_p95_seconds"].startswith("histogram_quantile(0.95, sum by")
    assert (
        'asr_request_duration_seconds_bucket{route=~"/v1/.*"}[2m]' in queries["latency_p95_seconds"]
    )
    assert "le)" in queries["realtime_factor_p50"]


def test_vector_keys_by_namespace_and_name_and_drops_nan() -> None:
    x, y = {"namespace": "a", "service": "x"}, {"namespace": "a", "service": "y"}
    got = vector(answer((x, "1.5"), (y, "NaN")), "service")
    assert got == {("a", "x"): 1.5}
    with pytest.raises(UpstreamError, match="bad_data"):
        vector({"status": "error", "error": "bad_data"}, "service")


def test_loads_per_recognizer_with_latency_only_when_served() -> None:
    figures = {name: {} for name in Queries("service", "1m").all()}
    figures["requests_per_second"] = {("a", "x"): 2.0, ("a", "idle"): 0.0}
    figures["latency_p50_seconds"] = {("a", "x"): 0.4, ("a", "idle"): 0.01}
    figures["servers_scraped"] = {("a", "x"): 2.0}
    result = loads(figures, [("a", "x"), ("a", "idle"), ("a", "unknown")])
    assert result[("a", "x")].latency_p50_seconds == 0.4
    assert result[("a", "x")].servers_scraped == 2
    assert result[("a", "idle")].latency_p50_seconds is None
    assert result[("a", "unknown")].requests_per_second is None
