"""The operator's own HTTP endpoint on `ASRFLEET_HEALTH_PORT`: `GET /healthz` (liveness) and
`GET /metrics` (Prometheus text format), the port the Helm chart's metrics Service and
ServiceMonitor point at.

It replaces kopf's liveness endpoint, which can only serve /healthz. Metrics:

- `asrfleet_operator_reconciles_total{trigger}`: reconciles run (`event`: a SpeechRecognizer
  event, `drift`: the drift sweep), failed ones included;
- `asrfleet_operator_reconcile_errors_total{trigger}`: reconciles that raised (API errors that
  are retried; a bad spec is not an error here, it is reported in the status);
- `asrfleet_operator_reconcile_duration_seconds{trigger}`: histogram of reconcile wall time;
- `asrfleet_operator_managed_speechrecognizers`: SpeechRecognizers this process knows of
  (reconciled at least once and not deleted since);
- `asrfleet_operator_leader`: 1 while this replica runs the control loop (with leader
  election: while it holds the Lease), else 0;
- `asrfleet_operator_kopf_restarts_total`: times kopf stopped with an error (e.g. a watch
  answered 410 at its start) and was started again;

plus prometheus-client's process and platform collectors (CPU, memory, file descriptors).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import prometheus_client
from aiohttp import web

RECONCILES = prometheus_client.Counter(
    "asrfleet_operator_reconciles_total", "Reconciles run, failed ones included", ["trigger"]
)
RECONCILE_ERRORS = prometheus_client.Counter(
    "asrfleet_operator_reconcile_errors_total", "Reconciles that raised an error", ["trigger"]
)
RECONCILE_SECONDS = prometheus_client.Histogram(
    "asrfleet_operator_reconcile_duration_seconds",
    "Wall time of one reconcile",
    ["trigger"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
MANAGED = prometheus_client.Gauge(
    "asrfleet_operator_managed_speechrecognizers", "SpeechRecognizers this operator knows of"
)
LEADER = prometheus_client.Gauge(
    "asrfleet_operator_leader", "1 while this replica runs the control loop (holds the Lease)"
)
KOPF_RESTARTS = prometheus_client.Counter(
    "asrfleet_operator_kopf_restarts_total", "Times kopf failed and was started again"
)


@asynccontextmanager
async def measured(trigger: str) -> AsyncIterator[None]:
    """Count and time one reconcile."""
    RECONCILES.labels(trigger).inc()
    start = time.perf_counter()
    try:
        yield
    except Exception:
        RECONCILE_ERRORS.labels(trigger).inc()
        raise
    finally:
        RECONCILE_SECONDS.labels(trigger).observe(time.perf_counter() - start)


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(_: web.Request) -> web.Response:
    body = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


async def start_endpoint(port: int, managed: Callable[[], int]) -> web.AppRunner:
    """Serve /healthz and /metrics on 0.0.0.0:`port`; `runner.cleanup()` stops it."""
    MANAGED.set_function(lambda: float(managed()))
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner
