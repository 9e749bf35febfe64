"""The typed SpeechRecognizer spec (frozen dataclasses); `spec.parse_spec` builds it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    name: str | None
    uri: str | None
    engine: str = "faster-whisper"
    compute_type: str = "auto"
    language: str | None = None
    output_script: str = "simplified"
    speech_model: str | None = None
    """The SpeechModel (a model cache) whose claim the pods mount, instead of name or uri."""
    credentials_secret: str | None = None
    """The Secret the init container fetching `uri` gets its credentials from."""

    @property
    def served_name(self) -> str:
        """The catalogue name, the SpeechModel's, or a directory name derived from the uri's
        last path part."""
        if self.name:
            return self.name
        if self.speech_model:
            return self.speech_model
        assert self.uri is not None
        tail = self.uri.rstrip("/").rsplit("/", 1)[-1]
        return re.sub(r"[^a-z0-9._-]", "-", tail.lower()).strip("-.") or "model"


@dataclass(frozen=True)
class AutoscalingSpec:
    min_replicas: int
    max_replicas: int
    target_inflight_requests: int | None = None
    target_cpu_utilization: int | None = None
    behavior: Mapping[str, Any] | None = None
    metrics: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class GpuSpec:
    count: int = 0
    resource_name: str = "nvidia.com/gpu"
    product: str | None = None


@dataclass(frozen=True)
class ImageSpec:
    repository: str | None = None
    tag: str | None = None
    pull_policy: str | None = None
    pull_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RolloutSpec:
    strategy: str | None = None
    max_surge: int | str | None = None
    max_unavailable: int | str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    type: str = "ClusterIP"
    port: int = 80
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodDisruptionBudgetSpec:
    min_available: int | str | None = None
    max_unavailable: int | str | None = None


@dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str


@dataclass(frozen=True)
class StreamingSpec:
    """spec.server.streaming; None leaves the server's default."""

    max_streams: int | None = None
    max_stream_seconds: float | None = None
    idle_timeout_seconds: float | None = None
    partial_interval_milliseconds: float | None = None
    max_utterance_seconds: float | None = None
    endpoint_silence_milliseconds: int | None = None
    encoder_context: str | None = None


@dataclass(frozen=True)
class ServerSpec:
    max_concurrent_requests: int | None = None
    max_queue: int | None = None
    max_audio_seconds: float | None = None
    max_body_megabytes: float | None = None
    request_timeout_seconds: float | None = None
    max_batch_size: int | None = None
    max_wait_milliseconds: float | None = None
    encoder_context: str | None = None
    beam_size: int | None = None
    """spec.server.decoding.beamSize; None: the server's default."""
    cpu_layout: str | None = None
    api_key_secret_ref: SecretKeyRef | None = None
    cache_entries: int | None = None
    streaming: StreamingSpec = field(default_factory=StreamingSpec)


@dataclass(frozen=True)
class SpeechRecognizerSpec:
    model: ModelSpec
    replicas: int = 1
    autoscaling: AutoscalingSpec | None = None
    gpu: GpuSpec = field(default_factory=GpuSpec)
    resources: Mapping[str, Any] | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    affinity: Mapping[str, Any] | None = None
    runtime_class_name: str | None = None
    priority_class_name: str | None = None
    image: ImageSpec = field(default_factory=ImageSpec)
    rollout: RolloutSpec = field(default_factory=RolloutSpec)
    service: ServiceSpec = field(default_factory=ServiceSpec)
    pod_disruption_budget: PodDisruptionBudgetSpec | None = None
    service_monitor_enabled: bool = False
    service_monitor_interval: str = "30s"
    suspend: bool = False
    server: ServerSpec = field(default_factory=ServerSpec)

    @property
    def uses_gpu(self) -> bool:
        return self.gpu.count > 0


@dataclass(frozen=True)
class StorageSpec:
    """Where a SpeechModel keeps its model: a new claim (size...) or an existing one."""

    size: str | None = None
    storage_class_name: str | None = None
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    existing_claim: str | None = None


@dataclass(frozen=True)
class SpeechModelSpec:
    """A SpeechModel's spec: a model downloaded once into a claim."""

    uri: str
    storage: StorageSpec
    engine: str = "faster-whisper"
    credentials_secret: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Node labels the download Job's pod requires."""
    tolerations: tuple[Mapping[str, Any], ...] = ()
    """Tolerations of the download Job's pod."""
