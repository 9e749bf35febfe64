"""How many pods and how they change: `spec.autoscaling`, `spec.rollout`,
`spec.podDisruptionBudget` (`spec.replicas` and `spec.suspend` are read in parse.py)."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.types import AutoscalingSpec, PodDisruptionBudgetSpec, RolloutSpec


def autoscaling_section(r: Reader, value: Any) -> AutoscalingSpec | None:
    raw = r.mapping(value, "spec.autoscaling")
    if raw is None or raw.get("enabled") is False:
        return None
    p = "spec.autoscaling"
    low = r.integer(raw, c.MIN_REPLICAS) or 1
    high = r.integer(raw, c.MAX_REPLICAS)
    if high is None:
        if raw.get("maxReplicas") is None:
            r.problem(c.MAX_REPLICAS.path, "is required")
        high = low
    if low > high:
        r.problem(c.MIN_REPLICAS.path, "must be <= autoscaling.maxReplicas")
    metrics = r.object_list(raw, f"{p}.metrics")
    for i, metric in enumerate(metrics):
        if not isinstance(metric.get("type"), str):
            r.problem(f"{p}.metrics[{i}].type", "is required (Resource, Pods, Object, External...)")
    return AutoscalingSpec(
        min_replicas=low,
        max_replicas=high,
        target_inflight_requests=r.integer(raw, c.TARGET_INFLIGHT_REQUESTS),
        target_cpu_utilization=r.integer(raw, c.TARGET_CPU_UTILIZATION),
        behavior=r.mapping(raw.get("behavior"), f"{p}.behavior"),
        metrics=metrics,
    )


def rollout_section(r: Reader, value: Any) -> RolloutSpec:
    raw = r.mapping(value, "spec.rollout") or {}
    strategy = r.choice(raw, c.ROLLOUT_STRATEGY)
    surge = r.int_or_percent(raw, "spec.rollout.maxSurge")
    unavailable = r.int_or_percent(raw, "spec.rollout.maxUnavailable")
    if strategy == "Recreate" and (surge is not None or unavailable is not None):
        r.problem("spec.rollout", "maxSurge/maxUnavailable apply to RollingUpdate only")
    if surge in (0, "0%") and unavailable in (0, "0%"):
        r.problem("spec.rollout", "maxSurge and maxUnavailable must not both be 0")
    return RolloutSpec(strategy=strategy, max_surge=surge, max_unavailable=unavailable)


def pdb_section(r: Reader, value: Any) -> PodDisruptionBudgetSpec | None:
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
