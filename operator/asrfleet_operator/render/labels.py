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
SPEECH_MODEL_KIND = "SpeechModel"
SPEECH_MODEL_PLURAL = "speechmodels"
SPEECH_MODEL_LABEL = f"{GROUP}/speech-model"
"""On a SpeechModel's claim, Job and download pods: the SpeechModel's name."""
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


def speech_model_labels(name: str) -> dict[str, str]:
    """Labels of a SpeechModel's children and download pods (never a server pod's: the
    Service must not select them)."""
    return {
        "app.kubernetes.io/name": "speech-model",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "model-cache",
        MANAGED_BY: MANAGER,
        "app.kubernetes.io/part-of": "asrfleet",
        SPEECH_MODEL_LABEL: name,
    }
