"""The operator's /healthz + /metrics endpoint and its reconcile metrics."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from asrfleet_operator.metrics import measured, start_endpoint
from asrfleet_operator.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


async def test_endpoint_serves_health_and_reconcile_metrics() -> None:
    port = free_port()
    runner = await start_endpoint(port, lambda: 7)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get("/healthz") as response:
                assert response.status == 200 and (await response.json())["status"] == "ok"
            async with http.get("/metrics") as response:
                before = await response.text()
            async with measured("event"):
                pass
            with pytest.raises(RuntimeError):
                async with measured("drift"):
                    raise RuntimeError("a failed reconcile")
            async with http.get("/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                after = await response.text()
    finally:
        await runner.cleanup()
    total = 'asrfleet_operator_reconciles_total{trigger="%s"}'
    errors = 'asrfleet_operator_reconcile_errors_total{trigger="%s"}'
    assert value(after, total % "event") == value(before, total % "event") + 1
    assert value(after, total % "drift") == value(before, total % "drift") + 1
    assert value(after, errors % "drift") == value(before, errors % "drift") + 1
    assert value(after, errors % "event") == value(before, errors % "event")
    count = 'asrfleet_operator_reconcile_duration_seconds_count{trigger="event"}'
    assert value(after, count) == value(before, count) + 1
    assert value(after, "asrfleet_operator_managed_speechrecognizers") == 7
    assert "process_cpu_seconds_total" in after


CHART = Path(__file__).resolve().parents[3] / "charts" / "asrfleet"


def chart_metrics() -> tuple[dict[str, Any], str]:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    service = (CHART / "templates" / "metrics-service.yaml").read_text(encoding="utf-8")
    return values, service


async def test_the_chart_scrapes_what_the_operator_serves() -> None:
    """charts/asrfleet: the metrics Service targets the operator's health port and the
    ServiceMonitor scrapes `metrics.path` there."""
    values, service = chart_metrics()
    assert values["operator"]["healthPort"] == Settings().health_port
    assert "targetPort: health" in service
    port = free_port()
    runner = await start_endpoint(port, lambda: 0)
    try:
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
            http.get(values["metrics"]["path"]) as response,
        ):
            assert response.status == 200
            assert "asrfleet_operator_reconciles_total" in await response.text()
    finally:
        await runner.cleanup()
