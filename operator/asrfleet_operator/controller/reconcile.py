"""One reconcile of a SpeechRecognizer: parse -> render -> converge children -> status.

`reconcile` returns the new status (None when the stored one is right) and never writes it;
`reconcile_and_report` is what the triggers call (changes.py, sweep.py): reconcile, then one
merge-patch of /status. `refresh_status_from_deployment` is the cheaper path for a Deployment
event (watch.py): the status only, from the Deployment as it now is.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.controller.children import (
    Action,
    ChildError,
    deployment_create_only,
    reconcile_child,
    resource_of,
)
from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.model_cache import CACHE_REASONS, resolve_model
from asrfleet_operator.kube import KubeClient, Resource
from asrfleet_operator.metrics import measured
from asrfleet_operator.render import DEPLOYMENT, desired_children
from asrfleet_operator.render.labels import API_VERSION, KIND, PLURAL
from asrfleet_operator.spec import SpecError, SpeechRecognizerSpec, parse_spec
from asrfleet_operator.status import DEGRADED, Problem, compute_status, status_changed

Logger = logging.Logger | logging.LoggerAdapter[Any]
SPEECH_RECOGNIZERS = Resource(API_VERSION, PLURAL)
SECRETS = Resource("v1", "secrets")
# Degraded reasons the operator itself decides (not read from the Deployment): a Deployment
# event must not clear them, only the next full reconcile of the same generation can.
OPERATOR_REASONS = frozenset(
    {"InvalidSpec", "ChildConflict", "KindNotInstalled", "ChildRejected", "Forbidden"}
    | CACHE_REASONS
)


def owner_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a SpeechRecognizer its children's ownerReference and labels come from."""
    return {
        "apiVersion": obj.get("apiVersion", API_VERSION),
        "kind": obj.get("kind", KIND),
        "metadata": dict(obj.get("metadata", {})),
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
    obj: Mapping[str, Any],
    logger: Logger,
    *,
    drift_check: bool = False,
    fresh: bool = False,
) -> dict[str, Any] | None:
    """Converge every child of `obj` (a SpeechRecognizer as the API server returned it) and
    return its new status, or None when the stored status is right or a newer generation was
    reconciled meanwhile. `fresh`: the object was just created, so none of its children can
    exist yet (they would need its new uid): skip the reads and create them."""
    meta = obj.get("metadata") or {}
    name, namespace = str(meta["name"]), str(meta["namespace"])
    previous: Mapping[str, Any] = obj.get("status") or {}
    generation = meta.get("generation")
    if ctx.is_stale((namespace, name), generation):
        logger.debug("skipping a reconcile of an outdated generation")
        return None
    try:
        spec = parse_spec(obj.get("spec") or {}, name=name)
    except SpecError as exc:
        # Leave running children as they are; report, do not retry (the spec must change).
        running = await ctx.client.get(resource_of(DEPLOYMENT), namespace, name)
        invalid = Problem("InvalidSpec", str(exc))
        return _report(ctx, obj, generation, None, running, invalid, previous)

    owner = owner_of(obj)
    checksum = await config_checksum(ctx.client, namespace, spec)
    source = await resolve_model(ctx, namespace, spec)  # a SpeechModel's claim, if named
    children = desired_children(name, namespace, spec, ctx.settings, checksum, source.cached)
    problem: Problem | None = source.problem
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
        ctx.events.post(obj, "Normal", reason, message)
    if DEPLOYMENT not in children and not fresh:  # held back: report the one that runs, if any
        deployment = await ctx.client.get(resource_of(DEPLOYMENT), namespace, name)
    return _report(ctx, obj, generation, spec, deployment, problem, previous, source.waiting)


async def reconcile_and_report(
    ctx: Context,
    obj: Mapping[str, Any],
    logger: Logger,
    *,
    fresh: bool = False,
    drift_check: bool = False,
) -> None:
    """Reconcile, then write the status when it changed (one merge-patch of /status)."""
    async with measured("drift" if drift_check else "event"):
        status = await reconcile(ctx, obj, logger, fresh=fresh, drift_check=drift_check)
        if status is not None:
            meta = obj["metadata"]
            await ctx.client.patch_status(
                SPEECH_RECOGNIZERS, meta["namespace"], meta["name"], status
            )


def _report(
    ctx: Context,
    obj: Mapping[str, Any],
    generation: Any,
    spec: SpeechRecognizerSpec | None,
    deployment: Mapping[str, Any] | None,
    problem: Problem | None,
    previous: Mapping[str, Any],
    waiting: Problem | None = None,
) -> dict[str, Any] | None:
    """The status to write (None: unchanged, or superseded); warns about a new problem once."""
    meta = obj["metadata"]
    name, namespace = str(meta["name"]), str(meta["namespace"])
    status = compute_status(
        name=name,
        namespace=namespace,
        generation=generation,
        spec=spec,
        deployment=deployment,
        problem=problem,
        previous=previous,
        settings=ctx.settings,
        waiting=waiting,
    )
    key = (namespace, name)
    if isinstance(generation, int) and generation < ctx.newest.get(key, 0):
        return None  # a newer generation was reconciled meanwhile: its report stands
    if problem is None:
        ctx.warned.pop(key, None)
    elif _is_new_problem(previous, problem, generation) and ctx.warned.get(key) != (
        problem.reason,
        problem.message,
        generation,
    ):
        ctx.warned[key] = (problem.reason, problem.message, generation)
        ctx.events.post(obj, "Warning", problem.reason, problem.message)
    return status if status_changed(status, previous) else None


def _is_new_problem(previous: Mapping[str, Any], problem: Problem, generation: Any) -> bool:
    """Warn once per problem and generation, not on every sweep."""
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
    ctx: Context, deployment: Mapping[str, Any], logger: Logger
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
    previous: Mapping[str, Any] = sr.get("status") or {}
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
        await ctx.client.patch_status(SPEECH_RECOGNIZERS, namespace, parent["name"], status)
        logger.debug(f"status of {namespace}/{parent['name']}: {status['phase']}")
