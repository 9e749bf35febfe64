"""Load figures from the inference server's real /metrics text (its own Metrics registry)."""

from __future__ import annotations

import math

import pytest
from asr_server.metrics import Metrics
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
    quantile,
)
from prometheus_client import generate_latest


def scrape(metrics: Metrics, time: float) -> Sample:
    return parse_sample(generate_latest(metrics.registry).decode(), time)


def serve(
    metrics: Metrics, route: str, code: int, seconds: float, rtf: float | None = None
) -> None:
    metrics.requests_total.labels(route=route, code=str(code)).inc()
    metrics.request_duration_seconds.labels(route=route).observe(seconds)
    if rtf is not None:
        metrics.realtime_factor.observe(rtf)


def test_rates_and_quantiles_over_one_interval_from_two_servers() -> None:
    a, b = Metrics.create(), Metrics.create()
    before = {"a": scrape(a, 0.0), "b": scrape(b, 0.0)}
    for _ in range(8):
        serve(a, "/v1/audio/transcriptions", 200, 0.3, rtf=0.04)
    for _ in range(2):
        serve(b, "/v1/recognize", 429, 0.01)
    serve(b, "/metrics", 200, 0.001)  # the console's own scrape: not load
    serve(b, "/readyz", 200, 60.0)  # nor a probe's latency (a slow one would show as p95)
    a.queue_depth.set(3)
    b.inflight_requests.set(2)
    b.active_streams.set(5)
    load = fleet_load(ScrapeRound({"a": scrape(a, 10.0), "b": scrape(b, 10.0)}), before)
    assert load.requests_per_second == pytest.approx(1.0)
    assert load.rejected_per_second == pytest.approx(0.2)
    assert 0.25 <= load.latency_p50_seconds <= 0.5  # type: ignore[operator]
    assert load.latency_p95_seconds <= 0.5  # type: ignore[operator]
    assert 0.02 <= load.realtime_factor_p50 <= 0.05  # type: ignore[operator]
    assert (load.queue_depth, load.inflight, load.active_streams) == (3, 2, 5)
    assert (load.servers_scraped, load.servers_failed) == (2, 0)


def test_first_round_has_gauges_but_no_rates_and_a_failed_server_counts() -> None:
    metrics = Metrics.create()
    metrics.queue_depth.set(1)
    load = fleet_load(ScrapeRound({"a": scrape(metrics, 1.0), "b": None}), {})
    assert load.requests_per_second is None and load.queue_depth == 1
    assert load.servers_failed == 1


def test_a_restarted_server_counts_from_zero_not_negative() -> None:
    old, new = Metrics.create(), Metrics.create()
    for _ in range(5):
        serve(old, "/v1/recognize", 200, 0.2)
    serve(new, "/v1/recognize", 200, 0.2)
    load = fleet_load(ScrapeRound({"a": scrape(new, 2.0)}), {"a": scrape(old, 1.0)})
    assert load.requests_per_second == pytest.approx(1.0)


def test_no_api_request_means_no_latency_figure() -> None:
    metrics = Metrics.create()
    before = scrape(metrics, 0.0)
    serve(metrics, "/readyz", 200, 0.001)
    load = fleet_load(ScrapeRound({"a": scrape(metrics, 1.0)}), {"a": before})
    assert load.requests_per_second == 0 and load.latency_p50_seconds is None


def test_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 0.0, 0.5: 10.0, 1.0: 10.0, math.inf: 10.0}
    assert quantile(0.5, buckets) == pytest.approx(0.3)
    assert quantile(0.5, {math.inf: 4.0}) == 0.0
    assert quantile(0.5, {1.0: 0.0, math.inf: 0.0}) is None


def test_history_is_bounded() -> None:
    history = History(capacity=3)
    for step in range(5):
        history.add(Point(float(step), Load(queue_depth=step), 1, 1))
    assert [p.time for p in history.points] == [2.0, 3.0, 4.0]
    assert history.latest == Load(queue_depth=4)


def test_a_failed_scrape_keeps_the_older_sample_and_a_gone_server_is_forgotten() -> None:
    metrics = Metrics.create()
    old = {"a": scrape(metrics, 1.0), "b": scrape(metrics, 1.0)}
    kept = kept_samples(ScrapeRound({"a": None, "c": scrape(metrics, 2.0)}), old)
    assert kept == {"a": old["a"], "c": kept["c"]}


def test_text_that_is_not_prometheus_is_an_error() -> None:
    with pytest.raises(MetricsError):
        parse_sample("asr_queue_depth{ one two", 0.0)
