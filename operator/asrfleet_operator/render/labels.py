"""Labels and names shared by every child of a SpeechRecognizer."""

from __future__ import annotations

from typing import Any

GROUP = "asrfleet.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SpeechRecognizer"
PLURAL = "speechrecognizers"
COMPONENT = "inference"
MANAGER = "asrfleet-operator"
MANAGED_BY = "app.kubernetes.io/managed-by"
"""The label whose value MANAGER marks every child (the operator's Deployment watch selects it)."""
HTTP_PORT = 8080
CONFIG_CHECKSUM_ANNOTATION = f"{GROUP}/config-checksum"


def selector_labels(name: str) -> dict[str, str]:
    """The immutable subset that selects the pods (never change these: selectors are immutable)."""
    return {
        "app.kubernetes.io/name": "asr-server",
        "app.kubernetes.io/instance": name,
    }


def labels(name: str) -> dict[str, str]:
    """Recommended labels on every child and pod."""
    return {
        **selector_labels(name),
        "app.kubernetes.io/component": COMPONENT,
        MANAGED_BY: MANAGER,
        "app.kubernetes.io/part-of": "asrfleet",
    }


def selector_string(name: str) -> str:
    """The pods' label selector as a string, for `status.selector` (the scale subresource)."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels(name).items()))


def metadata(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    """Child metadata: named after the SpeechRecognizer, in its namespace, with the labels."""
    return {"name": name, "namespace": namespace, "labels": labels(name), **extra}
