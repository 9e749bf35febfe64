"""Pure rendering: SpeechRecognizer spec + operator settings -> child manifests (no I/O); a
SpeechModel's claim and download Job are in speech_model.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asrfleet_operator.render.deployment import deployment
from asrfleet_operator.render.hpa import hpa
from asrfleet_operator.render.pdb import pdb
from asrfleet_operator.render.service import service
from asrfleet_operator.render.servicemonitor import service_monitor
from asrfleet_operator.render.speech_model import CachedModel
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
CLAIM = ChildKind("PersistentVolumeClaim", "v1", "persistentvolumeclaims")
JOB = ChildKind("Job", "batch/v1", "jobs")
"""A SpeechModel's children."""


def desired_children(
    name: str,
    namespace: str,
    spec: SpeechRecognizerSpec,
    settings: Settings,
    config_checksum: str = "",
    cached: CachedModel | None = None,
) -> dict[ChildKind, dict[str, Any] | None]:
    """Every child kind -> its manifest, or None when the spec does not ask for it (delete it).
    A spec naming a SpeechModel whose claim holds no model yet (`cached` None) has no
    Deployment entry: none is created, and one that runs stays as it is."""
    children: dict[ChildKind, dict[str, Any] | None] = {}
    if spec.model.speech_model is None or cached is not None:
        children[DEPLOYMENT] = deployment(name, namespace, spec, settings, config_checksum, cached)
    children[SERVICE] = service(name, namespace, spec)
    children[HPA] = hpa(name, namespace, spec)
    children[PDB] = pdb(name, namespace, spec)
    children[SERVICE_MONITOR] = service_monitor(name, namespace, spec)
    return children
