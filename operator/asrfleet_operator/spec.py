"""The SpeechRecognizer spec: one typed parse with semantic validation.

`parse_spec` turns the raw `spec` mapping into frozen dataclasses or raises `SpecError` listing
every problem as `spec.path: what is wrong`. It re-checks what the CRD schema says (an API server
without the schema, or an old CRD, lets anything through) and adds what a schema cannot say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.specmodel import (
    AutoscalingSpec,
    GpuSpec,
    ImageSpec,
    ModelSpec,
    PodDisruptionBudgetSpec,
    RolloutSpec,
    SecretKeyRef,
    ServerSpec,
    ServiceSpec,
    SpeechRecognizerSpec,
    StreamingSpec,
)
from asrfleet_operator.specparts import (
    COMPUTE_TYPES,
    CPU_LAYOUTS,
    CPU_ONLY_COMPUTE_TYPES,
    ENCODER_CONTEXTS,
    ENGINES,
    ENGLISH_ONLY_MODELS,
    GPU_ONLY_COMPUTE_TYPES,
    KNOWN_MODELS,
    OUTPUT_SCRIPTS,
    PULL_POLICIES,
    SERVICE_TYPES,
    STRATEGIES,
    URI_SCHEMES,
    Reader,
    streaming_section,
)

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_INTERVAL = re.compile(r"^[0-9]+(ms|s|m|h)$")
_RESOURCE_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_NAME_LENGTH = 52  # children names are the SR name; leaves room for pod-name suffixes


class SpecError(ValueError):
    """A spec the operator cannot run; `problems` are `spec.path: what is wrong` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_spec(raw: Mapping[str, Any], *, name: str = "x") -> SpeechRecognizerSpec:
    """Parse and validate a SpeechRecognizer spec; raise SpecError with every problem found."""
    r = Reader()
    if not _DNS1035.match(name) or len(name) > MAX_NAME_LENGTH:
        r.problem(
            "metadata.name",
            f"must be a DNS-1035 label of at most {MAX_NAME_LENGTH} characters"
            " (it names the Service)",
        )
    spec = r.mapping(raw, "spec") or {}
    model = _model(r, spec)
    autoscaling = _autoscaling(r, spec.get("autoscaling"))
    replicas = r.integer(spec, "spec.replicas", default=None, minimum=0)
    gpu = _gpu(r, spec.get("gpu"))
    if (
        autoscaling
        and replicas is not None
        and not (autoscaling.min_replicas <= replicas <= autoscaling.max_replicas)
    ):
        r.problem("spec.replicas", "must lie within autoscaling.minReplicas..maxReplicas")
    if model and gpu:
        if gpu.count == 0 and model.compute_type in GPU_ONLY_COMPUTE_TYPES:
            r.problem("spec.model.computeType", f"{model.compute_type} needs gpu.count >= 1")
        if gpu.count > 0 and model.compute_type in CPU_ONLY_COMPUTE_TYPES:
            r.problem("spec.model.computeType", f"{model.compute_type} is for CPU only")
        if gpu.count == 0 and gpu.product:
            r.problem("spec.gpu.product", "needs gpu.count >= 1")
    result = SpeechRecognizerSpec(
        model=model or ModelSpec(name="invalid", uri=None),
        replicas=1 if replicas is None else replicas,
        autoscaling=autoscaling,
        gpu=gpu or GpuSpec(),
        resources=_resources(r, spec.get("resources")),
        node_selector=r.string_map(spec, "spec.nodeSelector"),
        tolerations=r.object_list(spec, "spec.tolerations"),
        affinity=r.mapping(spec.get("affinity"), "spec.affinity"),
        runtime_class_name=r.string(spec, "spec.runtimeClassName", pattern=_DNS1123),
        priority_class_name=r.string(spec, "spec.priorityClassName", pattern=_DNS1123),
        image=_image(r, spec.get("image")),
        rollout=_rollout(r, spec.get("rollout")),
        service=_service(r, spec.get("service")),
        pod_disruption_budget=_pdb(r, spec.get("podDisruptionBudget")),
        service_monitor_enabled=_monitoring(r, spec).get("enabled", False),
        service_monitor_interval=_monitoring(r, spec).get("interval", "30s"),
        suspend=r.boolean(spec, "spec.suspend", default=False),
        server=_server(r, spec.get("server")),
    )
    r.raise_if_problems(SpecError)
    return result


def _model(r: Reader, spec: Mapping[str, Any]) -> ModelSpec | None:
    raw = r.mapping(spec.get("model"), "spec.model")
    if raw is None:
        r.problem("spec.model", "is required (set model.name or model.uri)")
        return None
    name = r.string(raw, "spec.model.name")
    uri = r.string(raw, "spec.model.uri")
    if (name is None) == (uri is None):
        r.problem("spec.model", "set exactly one of model.name or model.uri")
    if name is not None and name not in KNOWN_MODELS:
        r.problem("spec.model.name", f"unknown model {name!r}; known: {', '.join(KNOWN_MODELS)}")
    if uri is not None:
        scheme, _, rest = uri.partition("://")
        if scheme not in URI_SCHEMES or not rest:
            r.problem("spec.model.uri", f"must be {' | '.join(s + '://...' for s in URI_SCHEMES)}")
        elif scheme == "pvc":
            claim, _, path = rest.partition("/")
            if not _DNS1123.match(claim) or not path:
                r.problem("spec.model.uri", "must be pvc://CLAIM/PATH with a valid claim name")
    language = r.string(raw, "spec.model.language", pattern=_LANGUAGE)
    if name in ENGLISH_ONLY_MODELS and language not in (None, "en"):
        r.problem("spec.model.language", f"{name} is English-only; use en or another model")
    return ModelSpec(
        name=name,
        uri=uri,
        engine=r.choice(raw, "spec.model.engine", ENGINES, default="faster-whisper"),
        compute_type=r.choice(raw, "spec.model.computeType", COMPUTE_TYPES, default="auto"),
        language=language,
        output_script=r.choice(raw, "spec.model.outputScript", OUTPUT_SCRIPTS, "simplified"),
    )


def _autoscaling(r: Reader, value: Any) -> AutoscalingSpec | None:
    raw = r.mapping(value, "spec.autoscaling")
    if raw is None or raw.get("enabled") is False:
        return None
    p = "spec.autoscaling"
    low = r.integer(raw, f"{p}.minReplicas", default=1, minimum=1) or 1
    high = r.integer(raw, f"{p}.maxReplicas", default=None, minimum=1)
    if high is None:
        r.problem(f"{p}.maxReplicas", "is required")
        high = low
    if low > high:
        r.problem(f"{p}.minReplicas", "must be <= autoscaling.maxReplicas")
    metrics = r.object_list(raw, f"{p}.metrics")
    for i, metric in enumerate(metrics):
        if not isinstance(metric.get("type"), str):
            r.problem(f"{p}.metrics[{i}].type", "is required (Resource, Pods, Object, External...)")
    return AutoscalingSpec(
        min_replicas=low,
        max_replicas=high,
        target_inflight_requests=r.integer(raw, f"{p}.targetInflightRequests", None, minimum=1),
        target_cpu_utilization=r.integer(raw, f"{p}.targetCPUUtilizationPercentage", None, 1),
        behavior=r.mapping(raw.get("behavior"), f"{p}.behavior"),
        metrics=metrics,
    )


def _gpu(r: Reader, value: Any) -> GpuSpec | None:
    raw = r.mapping(value, "spec.gpu") or {}
    return GpuSpec(
        count=r.integer(raw, "spec.gpu.count", default=0, minimum=0) or 0,
        resource_name=r.string(raw, "spec.gpu.resourceName", pattern=_RESOURCE_NAME)
        or "nvidia.com/gpu",
        product=r.string(raw, "spec.gpu.product"),
    )


def _resources(r: Reader, value: Any) -> Mapping[str, Any] | None:
    raw = r.mapping(value, "spec.resources")
    if raw is None:
        return None
    result: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in ("limits", "requests", "claims"):
            r.problem(f"spec.resources.{key}", "unknown field (limits, requests, claims)")
        elif key == "claims":
            result[key] = value
        else:  # quantities as strings, as the API server stores them (2 -> "2")
            result[key] = r.string_map(raw, f"spec.resources.{key}", allow_numbers=True)
    return result


def _image(r: Reader, value: Any) -> ImageSpec:
    raw = r.mapping(value, "spec.image") or {}
    return ImageSpec(
        repository=r.string(raw, "spec.image.repository"),
        tag=r.string(raw, "spec.image.tag"),
        pull_policy=r.choice(raw, "spec.image.pullPolicy", PULL_POLICIES, default=None),
        pull_secrets=tuple(r.string_list(raw, "spec.image.pullSecrets", pattern=_DNS1123)),
    )


def _rollout(r: Reader, value: Any) -> RolloutSpec:
    raw = r.mapping(value, "spec.rollout") or {}
    strategy = r.choice(raw, "spec.rollout.strategy", STRATEGIES, default=None)
    surge = r.int_or_percent(raw, "spec.rollout.maxSurge")
    unavailable = r.int_or_percent(raw, "spec.rollout.maxUnavailable")
    if strategy == "Recreate" and (surge is not None or unavailable is not None):
        r.problem("spec.rollout", "maxSurge/maxUnavailable apply to RollingUpdate only")
    if surge in (0, "0%") and unavailable in (0, "0%"):
        r.problem("spec.rollout", "maxSurge and maxUnavailable must not both be 0")
    return RolloutSpec(strategy=strategy, max_surge=surge, max_unavailable=unavailable)


def _service(r: Reader, value: Any) -> ServiceSpec:
    raw = r.mapping(value, "spec.service") or {}
    return ServiceSpec(
        type=r.choice(raw, "spec.service.type", SERVICE_TYPES, default="ClusterIP"),
        port=r.integer(raw, "spec.service.port", default=80, minimum=1, maximum=65535) or 80,
        annotations=r.string_map(raw, "spec.service.annotations"),
    )


def _pdb(r: Reader, value: Any) -> PodDisruptionBudgetSpec | None:
    raw = r.mapping(value, "spec.podDisruptionBudget")
    if raw is None:
        return None
    low = r.int_or_percent(raw, "spec.podDisruptionBudget.minAvailable")
    high = r.int_or_percent(raw, "spec.podDisruptionBudget.maxUnavailable")
    if low is not None and high is not None:
        r.problem("spec.podDisruptionBudget", "set at most one of minAvailable or maxUnavailable")
    if low is None and high is None:
        high = 1
    return PodDisruptionBudgetSpec(min_available=low, max_unavailable=high)


def _monitoring(r: Reader, spec: Mapping[str, Any]) -> dict[str, Any]:
    monitoring = r.mapping(spec.get("monitoring"), "spec.monitoring", report=False) or {}
    raw = r.mapping(monitoring.get("serviceMonitor"), "spec.monitoring.serviceMonitor") or {}
    p = "spec.monitoring.serviceMonitor"
    return {
        "enabled": r.boolean(raw, f"{p}.enabled", default=False),
        "interval": r.string(raw, f"{p}.interval", pattern=_INTERVAL) or "30s",
    }


def _server(r: Reader, value: Any) -> ServerSpec:
    raw = r.mapping(value, "spec.server") or {}
    p = "spec.server"
    batching = r.mapping(raw.get("batching"), f"{p}.batching") or {}
    ref_raw = r.mapping(raw.get("apiKeySecretRef"), f"{p}.apiKeySecretRef")
    ref = None
    if ref_raw is not None:
        secret = r.string(ref_raw, f"{p}.apiKeySecretRef.name", pattern=_DNS1123)
        key = r.string(ref_raw, f"{p}.apiKeySecretRef.key", pattern=_SECRET_KEY)
        if secret is None or key is None:
            r.problem(f"{p}.apiKeySecretRef", "needs both name and key")
        else:
            ref = SecretKeyRef(name=secret, key=key)
    return ServerSpec(
        max_concurrent_requests=r.integer(raw, f"{p}.maxConcurrentRequests", None, minimum=0),
        max_queue=r.integer(raw, f"{p}.maxQueue", None, minimum=0),
        max_audio_seconds=r.positive(raw, f"{p}.maxAudioSeconds"),
        max_body_megabytes=r.positive(raw, f"{p}.maxBodyMegabytes"),
        request_timeout_seconds=r.positive(raw, f"{p}.requestTimeoutSeconds"),
        max_batch_size=r.integer(batching, f"{p}.batching.maxBatchSize", None, minimum=0),
        max_wait_milliseconds=r.number(batching, f"{p}.batching.maxWaitMilliseconds", minimum=0),
        encoder_context=r.choice(batching, f"{p}.batching.encoderContext", ENCODER_CONTEXTS, None),
        cpu_layout=r.choice(raw, f"{p}.cpuLayout", CPU_LAYOUTS, None),
        api_key_secret_ref=ref,
        cache_entries=r.integer(raw, f"{p}.cacheEntries", None, minimum=0),
        streaming=streaming_section(r, raw.get("streaming"), f"{p}.streaming"),
    )


__all__ = [
    "MAX_NAME_LENGTH",
    "AutoscalingSpec",
    "GpuSpec",
    "ImageSpec",
    "ModelSpec",
    "PodDisruptionBudgetSpec",
    "RolloutSpec",
    "SecretKeyRef",
    "ServerSpec",
    "ServiceSpec",
    "SpecError",
    "SpeechRecognizerSpec",
    "StreamingSpec",
    "parse_spec",
]
