"""One reconciliation of a SpeechRecognizer: parse -> render -> converge children -> status.

Called from sync.py (SpeechRecognizer events) and drift.py (the periodic sweep); the new status
is left in `patch.status`, only when it changed, for the caller to write.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from asrfleet_operator.apply import (
    Action,
    ChildError,
    deployment_create_only,
    reconcile_child,
    resource_of,
)
from asrfleet_operator.events import EventPoster
from asrfleet_operator.kube import KubeClient, Resource
from asrfleet_operator.render import DEPLOYMENT, desired_children
from asrfleet_operator.render.labels import API_VERSION, KIND, PLURAL
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import SpecError, SpeechRecognizerSpec, parse_spec
from asrfleet_operator.status import DEGRADED, Problem, compute_status, status_changed

SPEECH_RECOGNIZERS = Resource(API_VERSION, PLURAL)
SECRETS = Resource("v1", "secrets")
# Degraded reasons the operator itself decides (not read from the Deployment): a Deployment
# event must not clear them, only the next full reconcile of the same generation can.
OPERATOR_REASONS = frozenset(
    {"InvalidSpec", "ChildConflict", "KindNotInstalled", "ChildRejected", "Forbidden"}
)


@dataclass
class Context:
    """What every handler needs; kept in kopf's memo."""

    settings: Settings
    client: KubeClient
    # (namespace, name) -> the last problem warned about with its generation: the timer and an
    # update handler can both see the status from before the first warning was recorded.
    warned: dict[tuple[str, str], tuple[str, str, Any]] = field(default_factory=dict)
    # (namespace, name) -> newest metadata.generation reconciled: a timer tick holding an older
    # body than a concurrent update handler must not write stale children or status.
    newest: dict[tuple[str, str], int] = field(default_factory=dict)
    # (namespace, name, plural) of optional children confirmed absent (not wanted, not there).
    absent: set[tuple[str, str, str]] = field(default_factory=set)
    # uids of the SpeechRecognizers this process has reconciled at least once (sync.py).
    seen: set[str | None] = field(default_factory=set)
    events: EventPoster = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventPoster(self.client)

    def is_stale(self, key: tuple[str, str], generation: Any) -> bool:
        if not isinstance(generation, int):
            return False
        if generation < self.newest.get(key, 0):
            return True
        self.newest[key] = generation
        return False


def body_mapping(body: Any) -> dict[str, Any]:
    return {
        "apiVersion": body.get("apiVersion", API_VERSION),
        "kind": body.get("kind", KIND),
        "metadata": dict(body.get("metadata", {})),
    }


async def config_checksum(client: KubeClient, namespace: str, spec: SpeechRecognizerSpec) -> str:
    """Hash of the config the pods read but the Deployment does not contain (the API-key
    Secret's value), so that changing it rolls the pods."""
    ref = spec.server.api_key_secret_ref
    if ref is None:
        return ""
    secret = await client.get(SECRETS, namespace, ref.name)
    value = ((secret or {}).get("data") or {}).get(ref.key)
    if value is None:
        return "missing"
    return hashlib.sha256(base64.b64decode(value)).hexdigest()[:16]


async def reconcile(
    ctx: Context,
    body: kopf.Body,
    patch: kopf.Patch,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    *,
    drift_check: bool = False,
    fresh: bool = False,
) -> None:
    """Converge every child and report. `fresh`: the object was just created, so none of its
    children can exist yet (they would need its new uid): skip the reads and create them."""
    name, namespace = body.metadata.name, body.metadata.namespace
    assert name is not None and namespace is not None
    owner = body_mapping(body)
    # kopf's body is live (updated in place by newer watch events while we await): read the
    # generation and status once, so the report describes the spec that was reconciled.
    previous = dict(body.get("status", {}))
    generation = body.metadata.get("generation")
    if ctx.is_stale((namespace, name), generation):
        logger.debug("skipping a reconcile of an outdated generation")
        return
    try:
        spec: SpeechRecognizerSpec | None = parse_spec(body.get("spec", {}), name=name)
    except SpecError as exc:
        # Leave running children as they are; report, do not retry (the spec must change).
        running = await ctx.client.get(resource_of(DEPLOYMENT), namespace, name)
        invalid = Problem("InvalidSpec", str(exc))
        _report(ctx, body, patch, generation, None, running, invalid, previous)
        return

    assert spec is not None
    checksum = await config_checksum(ctx.client, namespace, spec)
    children = desired_children(name, namespace, spec, ctx.settings, checksum)
    problem: Problem | None = None
    deployment: Mapping[str, Any] | None = None
    changed: dict[str, list[str]] = {}  # event reason -> kinds, one Event per reason
    for kind, desired in children.items():
        absent_key = (namespace, name, kind.plural)
        if desired is None and (fresh or absent_key in ctx.absent):
            ctx.absent.add(absent_key)
            continue  # confirmed absent before: no GET per reconcile for unused kinds
        autoscaled = spec.autoscaling is not None and not spec.suspend
        create_only = deployment_create_only(autoscaled) if kind is DEPLOYMENT else ()
        try:
            outcome = await reconcile_child(
                ctx.client, kind, desired, owner, create_only, assume_missing=fresh
            )
        except ChildError as exc:
            logger.warning(f"{kind.kind}: {exc.reason}: {exc.message}")
            problem = problem or Problem(exc.reason, exc.message)
            continue
        if desired is None:
            ctx.absent.add(absent_key)
        else:
            ctx.absent.discard(absent_key)
        if kind is DEPLOYMENT:
            deployment = outcome.current
        if outcome.action not in (Action.UNCHANGED, Action.ABSENT):
            verb = outcome.action.value.capitalize()
            reason = "DriftCorrected" if drift_check and outcome.action is Action.APPLIED else verb
            changed.setdefault(reason, []).append(kind.kind)
            logger.debug(f"{kind.kind} {namespace}/{name} {outcome.action.value}")
    for reason, kinds in changed.items():
        message = (
            f"{', '.join(kinds)} {'corrected' if reason == 'DriftCorrected' else reason.lower()}"
        )
        ctx.events.post(body, "Normal", reason, message)
    _report(ctx, body, patch, generation, spec, deployment, problem, previous)


def _report(
    ctx: Context,
    body: kopf.Body,
    patch: kopf.Patch,
    generation: Any,
    spec: SpeechRecognizerSpec | None,
    deployment: Mapping[str, Any] | None,
    problem: Problem | None,
    previous: Mapping[str, Any],
) -> None:
    status = compute_status(
        name=str(body.metadata.name),
        namespace=str(body.metadata.namespace),
        generation=generation,
        spec=spec,
        deployment=deployment,
        problem=problem,
        previous=previous,
        settings=ctx.settings,
    )
    key = (str(body.metadata.namespace), str(body.metadata.name))
    if isinstance(generation, int) and generation < ctx.newest.get(key, 0):
        return  # a newer generation was reconciled meanwhile: its report stands
    if problem is None:
        ctx.warned.pop(key, None)
    elif _is_new_problem(previous, problem, generation) and ctx.warned.get(key) != (
        problem.reason,
        problem.message,
        generation,
    ):
        ctx.warned[key] = (problem.reason, problem.message, generation)
        ctx.events.post(body, "Warning", problem.reason, problem.message)
    if status_changed(status, previous):
        patch.status.update(status)


def _is_new_problem(previous: Mapping[str, Any], problem: Problem, generation: Any) -> bool:
    """Warn once per problem and generation, not on every timer tick."""
    for cond in previous.get("conditions") or []:
        if cond.get("type") == "Degraded" and cond.get("status") == "True":
            return not (
                cond.get("reason") == problem.reason
                and cond.get("message") == problem.message
                and cond.get("observedGeneration") == generation
            )
    return True


def standing_problem(status: Mapping[str, Any], generation: Any) -> Problem | None:
    """An operator-decided problem recorded for this generation (kept by Deployment events)."""
    if status.get("phase") != DEGRADED:
        return None
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "Degraded"
            and cond.get("reason") in OPERATOR_REASONS
            and cond.get("observedGeneration") == generation
        ):
            return Problem(str(cond["reason"]), str(cond.get("message", "")))
    return None


async def refresh_status_from_deployment(
    ctx: Context, deployment: Mapping[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any]
) -> None:
    """A Deployment changed (pods became ready, a rollout stalled...): update its parent's
    status. Reads the parent, writes only when the status differs."""
    if not deployment.get("status"):
        return  # nothing observed yet: the reconcile that wrote it also wrote the status
    meta = deployment.get("metadata", {})
    parent = next(
        (
            ref
            for ref in meta.get("ownerReferences") or []
            if ref.get("controller") and ref.get("kind") == KIND
        ),
        None,
    )
    if parent is None:
        return
    namespace = meta.get("namespace", "")
    sr = await ctx.client.get(SPEECH_RECOGNIZERS, namespace, parent["name"])
    if sr is None:
        return
    previous: MutableMapping[str, Any] = sr.get("status") or {}
    generation = sr.get("metadata", {}).get("generation")
    problem = standing_problem(previous, generation)
    try:
        spec: SpeechRecognizerSpec | None = parse_spec(sr.get("spec", {}), name=parent["name"])
    except SpecError as exc:
        spec, problem = None, Problem("InvalidSpec", str(exc))
    status = compute_status(
        name=parent["name"],
        namespace=namespace,
        generation=generation,
        spec=spec,
        deployment=deployment,
        problem=problem,
        previous=previous,
        settings=ctx.settings,
    )
    if status_changed(status, previous):
        path = SPEECH_RECOGNIZERS.path(namespace, parent["name"]) + "/status"
        await ctx.client.request("PATCH", path, {"status": status}, "application/merge-patch+json")
        logger.debug(f"status of {namespace}/{parent['name']}: {status['phase']}")
