"""Pure rendering: SpeechRecognizer spec + operator settings -> child manifests (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asrfleet_operator.render.deployment import deployment
from asrfleet_operator.render.hpa import hpa
from asrfleet_operator.render.pdb import pdb
from asrfleet_operator.render.service import service
from asrfleet_operator.render.servicemonitor import service_monitor
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import SpeechRecognizerSpec


@dataclass(frozen=True)
class ChildKind:
    """Where a kind of child lives in the API."""

    kind: str
    api_version: str
    plural: str


DEPLOYMENT = ChildKind("Deployment", "apps/v1", "deployments")
SERVICE = ChildKind("Service", "v1", "services")
HPA = ChildKind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers")
PDB = ChildKind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets")
SERVICE_MONITOR = ChildKind("ServiceMonitor", "monitoring.coreos.com/v1", "servicemonitors")
CHILD_KINDS = (DEPLOYMENT, SERVICE, HPA, PDB, SERVICE_MONITOR)


def desired_children(
    name: str,
    namespace: str,
    spec: SpeechRecognizerSpec,
    settings: Settings,
    config_checksum: str = "",
) -> dict[ChildKind, dict[str, Any] | None]:
    """Every child kind -> its manifest, or None when the spec does not ask for it (delete it)."""
    return {
        DEPLOYMENT: deployment(name, namespace, spec, settings, config_checksum),
        SERVICE: service(name, namespace, spec),
        HPA: hpa(name, namespace, spec),
        PDB: pdb(name, namespace, spec),
        SERVICE_MONITOR: service_monitor(name, namespace, spec),
    }
