"""What each pod is and asks for: `spec.gpu`, `spec.resources`, `spec.image`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.types import GpuSpec, ImageSpec


def gpu_section(r: Reader, value: Any) -> GpuSpec:
    raw = r.mapping(value, "spec.gpu") or {}
    return GpuSpec(
        count=r.integer(raw, c.GPU_COUNT) or 0,
        resource_name=r.string(raw, c.GPU_RESOURCE_NAME) or "nvidia.com/gpu",
        product=r.string(raw, c.GPU_PRODUCT),
    )


def resources_section(r: Reader, value: Any) -> Mapping[str, Any] | None:
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


def image_section(r: Reader, value: Any) -> ImageSpec:
    raw = r.mapping(value, "spec.image") or {}
    return ImageSpec(
        repository=r.string(raw, "spec.image.repository"),
        tag=r.string(raw, "spec.image.tag"),
        pull_policy=r.choice(raw, c.PULL_POLICY),
        pull_secrets=tuple(r.string_list(raw, c.PULL_SECRET)),
    )
