"""How the fleet is reached and watched: `spec.service`, `spec.monitoring`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.types import ServiceSpec


def service_section(r: Reader, value: Any) -> ServiceSpec:
    raw = r.mapping(value, "spec.service") or {}
    return ServiceSpec(
        type=r.choice(raw, c.SERVICE_TYPE) or "ClusterIP",
        port=r.integer(raw, c.SERVICE_PORT) or 80,
        annotations=r.string_map(raw, "spec.service.annotations"),
    )


def monitoring_section(r: Reader, spec: Mapping[str, Any]) -> tuple[bool, str]:
    """(ServiceMonitor enabled, its scrape interval)."""
    monitoring = r.mapping(spec.get("monitoring"), "spec.monitoring", report=False) or {}
    raw = r.mapping(monitoring.get("serviceMonitor"), "spec.monitoring.serviceMonitor") or {}
    enabled = r.boolean(raw, c.SERVICE_MONITOR_ENABLED)
    return enabled, r.string(raw, c.SERVICE_MONITOR_INTERVAL) or "30s"
