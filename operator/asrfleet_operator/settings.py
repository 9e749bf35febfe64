"""Operator settings: one frozen dataclass, loaded once from `ASRFLEET_*` env at startup.

Every field documents itself (the docstring under it) and names its variable in `metadata`;
`docs/operator.md` and the Helm chart's values follow this file.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asrfleet_operator.spec.contract import PULL_POLICIES

# Kubernetes minor versions the rendered manifests are validated against (kubernetes-validate)
# and the Helm chart's `kubeVersion` claims (">=1.29.0-0 <1.34.0-0").
SUPPORTED_KUBERNETES_VERSIONS: tuple[str, ...] = ("1.29", "1.30", "1.31", "1.32", "1.33")

LOG_FORMATS = ("json", "text")


class SettingsError(ValueError):
    """A setting with a value the operator cannot use; the message names the variable."""


def _env(name: str) -> dict[str, Any]:
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    inference_image: str = field(
        default="ghcr.io/asrfleet/asr-server:0.1.0", metadata=_env("ASRFLEET_INFERENCE_IMAGE")
    )
    """Default inference image (repository:tag) when a SpeechRecognizer names none."""
    torch_inference_image: str = field(
        default="ghcr.io/asrfleet/asr-server:0.1.0-torch",
        metadata=_env("ASRFLEET_TORCH_INFERENCE_IMAGE"),
    )
    """Default inference image for `model.engine: torch` (the inference image's build with
    PyTorch; the default one does not carry it)."""
    image_pull_policy: str = field(
        default="IfNotPresent", metadata=_env("ASRFLEET_IMAGE_PULL_POLICY")
    )
    """Default pull policy for the inference image: Always | IfNotPresent | Never."""
    namespaces: tuple[str, ...] = field(default=(), metadata=_env("ASRFLEET_NAMESPACES"))
    """Comma-separated namespace names to watch; empty watches all namespaces (cluster-wide)."""
    resync_seconds: float = field(default=60.0, metadata=_env("ASRFLEET_RESYNC_SECONDS"))
    """Drift correction: every SpeechRecognizer's desired state is re-applied this often."""
    peering: str = field(default="", metadata=_env("ASRFLEET_PEERING"))
    """kopf peering object name for HA (several replicas, one active); empty = standalone."""
    health_port: int = field(default=8081, metadata=_env("ASRFLEET_HEALTH_PORT"))
    """Port of the operator's HTTP endpoint: `GET /healthz` (liveness), `GET /metrics` (0: none)."""
    log_format: str = field(default="json", metadata=_env("ASRFLEET_LOG_FORMAT"))
    """Operator log format: json | text."""
    default_cpu_request: str = field(default="500m", metadata=_env("ASRFLEET_DEFAULT_CPU_REQUEST"))
    """CPU request of an inference container whose SpeechRecognizer sets no `resources`."""
    default_memory_request: str = field(
        default="1Gi", metadata=_env("ASRFLEET_DEFAULT_MEMORY_REQUEST")
    )
    """Memory request (and limit) of an inference container with no `resources`."""
    model_cache_size: str = field(default="4Gi", metadata=_env("ASRFLEET_MODEL_CACHE_SIZE"))
    """sizeLimit of the emptyDir model cache mounted at /models."""
    cluster_domain: str = field(default="cluster.local", metadata=_env("ASRFLEET_CLUSTER_DOMAIN"))
    """Cluster DNS domain used in `status.url`."""

    def __post_init__(self) -> None:
        if not self.inference_image:
            raise SettingsError("ASRFLEET_INFERENCE_IMAGE must not be empty")
        if not self.torch_inference_image:
            raise SettingsError("ASRFLEET_TORCH_INFERENCE_IMAGE must not be empty")
        if self.image_pull_policy not in PULL_POLICIES:
            raise SettingsError(
                f"ASRFLEET_IMAGE_PULL_POLICY must be one of {', '.join(PULL_POLICIES)};"
                f" got {self.image_pull_policy!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(
                f"ASRFLEET_LOG_FORMAT must be one of json, text; got {self.log_format!r}"
            )
        if self.resync_seconds <= 0:
            raise SettingsError(f"ASRFLEET_RESYNC_SECONDS must be > 0, got {self.resync_seconds}")
        if any(ch in ns for ns in self.namespaces for ch in "*?[]!"):
            # kopf would accept patterns, the operator's own watch and drift sweep cannot.
            raise SettingsError(
                f"ASRFLEET_NAMESPACES takes namespace names, not patterns: {self.namespaces}"
            )
        if not 0 <= self.health_port < 65536:
            raise SettingsError(f"ASRFLEET_HEALTH_PORT must be 0-65535, got {self.health_port}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from `ASRFLEET_*` variables; unset or empty variables keep the default."""
        return cls(**values_from_env(cls, env, _PARSERS, SettingsError))

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    def inference_image_for(self, engine: str) -> str:
        """The default inference image of an engine (`spec.model.engine`)."""
        return self.torch_inference_image if engine == "torch" else self.inference_image


def values_from_env(
    cls: type[Any],
    env: Mapping[str, str],
    parsers: Mapping[str, Callable[[str], Any]],
    error: type[ValueError],
) -> dict[str, Any]:
    """The fields of the settings dataclass `cls` whose variable (metadata["env"]) is set and
    not empty, parsed by `parsers` (default str); a value that does not parse raises `error`
    naming the variable."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        name = f.metadata["env"]
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[f.name] = parsers.get(f.name, str)(raw.strip())
        except ValueError as exc:
            raise error(f"{name}={raw!r} is not valid: {exc}") from None
    return values


def env_table(cls: type[Any] | None = None) -> list[tuple[str, str, str]]:
    """(variable, default, description) per setting of `cls` (default: Settings), for `--help`
    and the docs. `cls` is a dataclass whose fields name their variable in metadata["env"]."""
    cls = Settings if cls is None else cls
    docs = field_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default
        shown = ",".join(default) if isinstance(default, tuple) else str(default)
        rows.append((f.metadata["env"], shown, docs.get(f.name, "")))
    return rows


def field_docs(cls: type[Any]) -> dict[str, str]:
    """The docstring under each field of the dataclass `cls`, on one line."""
    # Field docstrings are not kept at run time; read them from the class's source.
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _parse_namespaces(raw: str) -> tuple[str, ...]:
    return tuple(ns.strip() for ns in raw.split(",") if ns.strip())


_PARSERS: dict[str, Callable[[str], Any]] = {
    "namespaces": _parse_namespaces,
    "resync_seconds": float,
    "health_port": int,
}
