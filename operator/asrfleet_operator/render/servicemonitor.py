"""The Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1), only when enabled."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.labels import metadata, selector_labels
from asrfleet_operator.spec import SpeechRecognizerSpec


def service_monitor(name: str, namespace: str, spec: SpeechRecognizerSpec) -> dict[str, Any] | None:
    if not spec.service_monitor_enabled:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(name, namespace),
        "spec": {
            "selector": {"matchLabels": selector_labels(name)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [
                {"port": "http", "path": "/metrics", "interval": spec.service_monitor_interval}
            ],
        },
    }
