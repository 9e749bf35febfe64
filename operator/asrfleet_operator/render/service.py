"""The Service in front of the inference pods: port -> the container's `http` port."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.labels import metadata, selector_labels
from asrfleet_operator.spec import SpeechRecognizerSpec


def service(name: str, namespace: str, spec: SpeechRecognizerSpec) -> dict[str, Any]:
    meta = metadata(name, namespace)
    if spec.service.annotations:
        meta["annotations"] = dict(spec.service.annotations)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": spec.service.type,
            "selector": selector_labels(name),
            "ports": [
                {
                    "name": "http",
                    "port": spec.service.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }


def service_url(name: str, namespace: str, spec: SpeechRecognizerSpec, domain: str) -> str:
    port = "" if spec.service.port == 80 else f":{spec.service.port}"
    return f"http://{name}.{namespace}.svc.{domain}{port}"
