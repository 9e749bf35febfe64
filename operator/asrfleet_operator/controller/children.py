"""Make one child match its desired manifest: create, server-side apply, or delete it.

Idempotent: a child that already holds every desired field gets no write request at all (the
comparison ignores what the API server defaulted, and compares quantities by value, as the API
server normalises them: `1.5Gi` is stored as `1536Mi`). A child that exists but belongs to
someone else is never overwritten.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import kopf
from kubernetes.utils import parse_quantity as _parse_quantity

from asrfleet_operator.kube import ApiError, KubeClient, Resource
from asrfleet_operator.render import DEPLOYMENT, ChildKind

Path = tuple[str, ...]
parse_quantity: Callable[[object], Decimal] = _parse_quantity  # the client declares no types
QUANTITY_MAPS = frozenset({"limits", "requests"})
"""Keys whose values map names to quantities (core/v1 ResourceRequirements)."""
QUANTITY_KEYS = frozenset({"sizeLimit", "averageValue"})
"""Keys whose value is one quantity (an emptyDir's size, an HPA metric's target)."""


class Action(StrEnum):
    CREATED = "created"
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ABSENT = "absent"


class ChildError(Exception):
    """A child that cannot be made as desired; `reason` is the condition/event reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ChildOutcome:
    kind: ChildKind
    action: Action
    current: Mapping[str, Any] | None  # the child as the API server last returned it


def resource_of(kind: ChildKind) -> Resource:
    return Resource(kind.api_version, kind.plural)


def is_subset(desired: Any, current: Any, quantities: bool = False) -> bool:
    """True if every field in `desired` has the same value in `current`. Fields the API server
    defaulted (present only in `current`) do not count as drift; lists must match item by item;
    quantities compare by value (`quantities`: `desired` maps names to quantities)."""
    if isinstance(desired, Mapping):
        if not isinstance(current, Mapping):
            return False
        for key, value in desired.items():
            if key not in current:
                return False
            other = current[key]
            if isinstance(value, Mapping | list):
                if not is_subset(value, other, key in QUANTITY_MAPS):
                    return False
            elif value != other and not (
                (quantities or key in QUANTITY_KEYS) and same_quantity(value, other)
            ):
                return False
        return True
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return False
        return all(is_subset(d, c) for d, c in zip(desired, current, strict=True))
    return bool(desired == current)


def same_quantity(desired: Any, current: Any) -> bool:
    """`1.5Gi` and `1536Mi`, `0.5` and `500m`: the same amount (False if either is no quantity)."""
    try:
        return bool(parse_quantity(desired) == parse_quantity(current))
    except (ValueError, TypeError):
        return False


def without(manifest: Mapping[str, Any], paths: tuple[Path, ...]) -> dict[str, Any]:
    """`manifest` without the fields at `paths` (a deep copy when there is anything to drop)."""
    if not paths:
        return dict(manifest)
    result = copy.deepcopy(dict(manifest))
    for path in paths:
        node: Any = result
        for key in path[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return result


def _lookup(obj: Mapping[str, Any], path: Path) -> Any:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def controlled_by(child: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """True if `owner` is the child's controller (by uid when the owner has one)."""
    owner_meta = owner.get("metadata", {})
    for ref in child.get("metadata", {}).get("ownerReferences", []) or []:
        if not ref.get("controller"):
            continue
        if owner_meta.get("uid"):
            return bool(ref.get("uid") == owner_meta["uid"])
        return bool(ref.get("kind") == owner.get("kind") and ref.get("name") == owner_meta["name"])
    return False


async def reconcile_child(
    client: KubeClient,
    kind: ChildKind,
    desired: dict[str, Any] | None,
    owner: Mapping[str, Any],
    create_only: tuple[Path, ...] = (),
    *,
    assume_missing: bool = False,
) -> ChildOutcome:
    """Converge one child. `create_only` fields are sent on creation and not enforced while
    they hold a non-zero value (e.g. Deployment replicas while an HPA owns them)."""
    name = owner["metadata"]["name"]
    namespace = owner["metadata"]["namespace"]
    resource = resource_of(kind)
    try:
        # assume_missing: skip the read and create; a 409 below falls back to converging.
        current = None if assume_missing else await client.get(resource, namespace, name)
        if desired is None:
            if current is None or not controlled_by(current, owner):
                return ChildOutcome(kind, Action.ABSENT, None)
            await client.delete(resource, namespace, name)
            return ChildOutcome(kind, Action.DELETED, None)

        kopf.adopt(desired, owner=owner)  # type: ignore[arg-type]
        if current is None:
            try:
                created = await client.create(resource, namespace, desired)
                return ChildOutcome(kind, Action.CREATED, created)
            except ApiError as exc:
                if exc.status != 409:  # 409: made meanwhile (a racing worker): converge it below
                    raise
                current = await client.get(resource, namespace, name)
                if current is None:
                    raise
        if not controlled_by(current, owner):
            raise ChildError(
                "ChildConflict",
                f"{kind.kind} {namespace}/{name} exists and is not controlled by this"
                f" {owner.get('kind', 'SpeechRecognizer')}; delete or rename it",
            )
        # A create-only field is still enforced while it is unset or zero: an HPA never scales
        # a Deployment up from 0 replicas (e.g. after `suspend` is lifted).
        enforced = without(desired, tuple(p for p in create_only if _lookup(current, p)))
        if is_subset(enforced, current):
            return ChildOutcome(kind, Action.UNCHANGED, current)
        applied = await client.apply(resource, namespace, enforced)
        return ChildOutcome(kind, Action.APPLIED, applied)
    except ApiError as exc:
        raise classify(kind, exc) from exc


def classify(kind: ChildKind, exc: ApiError) -> Exception:
    """Permanent problems become ChildError (reported as Degraded, not retried: the spec or the
    cluster must change); the rest are temporary, a kopf.TemporaryError whose `delay` the
    controller's retry waits at least (retry.py) before the next attempt."""
    if exc.status == 404:
        return ChildError(
            "KindNotInstalled",
            f"{kind.kind} ({kind.api_version}) is not served by this cluster: {exc.message}",
        )
    if exc.status in (400, 403, 422):
        reason = "Forbidden" if exc.status == 403 else "ChildRejected"
        return ChildError(reason, f"{kind.kind} rejected by the API server: {exc.message}")
    delay = 30.0 if exc.status == 429 else 5.0
    return kopf.TemporaryError(f"{kind.kind}: {exc}", delay=delay)


def deployment_create_only(autoscaled: bool) -> tuple[Path, ...]:
    """With an HPA, the HPA owns `spec.replicas` after the Deployment is created."""
    return (("spec", "replicas"),) if autoscaled else ()


__all__ = [
    "DEPLOYMENT",
    "Action",
    "ChildError",
    "ChildOutcome",
    "classify",
    "controlled_by",
    "deployment_create_only",
    "is_subset",
    "reconcile_child",
    "resource_of",
    "same_quantity",
    "without",
]
