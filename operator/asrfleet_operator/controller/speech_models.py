"""The control loop of a SpeechModel (a model cache): its claim and download Job, its state,
and the SpeechRecognizers that use it.

Triggers: a SpeechModel event (kopf, handlers.py; first sight or a new generation, as for a
SpeechRecognizer: changes.needs_reconcile), an event of one of its Jobs (the operator's own
list + watch of the Jobs it manages, watch.py) and the resync sweep. Each reconcile reads the
SpeechModel afresh under its lock (`Context.model_locks`).

One reconcile: parse -> the claim (made unless an existing one is named; a claim that is gone
is made again, and filled again) -> the Job of the current revision, made when the claim does
not hold it yet; Jobs of another revision or scheduling, or that wrote to another claim, are
deleted -> the Job's failed pods, for fetch-model's exit code and error line -> the status
(speech_model_status.py), written when it changed, with an Event when the state changed -> when
the state or what the claim holds changed, a reconcile of each SpeechRecognizer naming it (its
Deployment is created, or rolls to the new revision).

Deleting a SpeechModel deletes its claim and Jobs (ownerReferences; a claim still mounted by
pods stays until they are gone). Deleting a SpeechRecognizer touches neither: the cache is not
its child.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import kopf

from asrfleet_operator.controller.changes import needs_reconcile
from asrfleet_operator.controller.children import (
    ChildError,
    classify,
    controlled_by,
    reconcile_child,
    resource_of,
)
from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.model_cache import SPEECH_MODELS
from asrfleet_operator.controller.reconcile import (
    SPEECH_RECOGNIZERS,
    Logger,
    owner_of,
    reconcile_and_report,
)
from asrfleet_operator.kube import ApiError, Resource
from asrfleet_operator.render import CLAIM, JOB
from asrfleet_operator.render.labels import GROUP, SPEECH_MODEL_KIND, SPEECH_MODEL_LABEL
from asrfleet_operator.render.speech_model import claim, fetch_job, job_key, job_name, revision
from asrfleet_operator.spec import SpecError, SpeechModelSpec, parse_speech_model
from asrfleet_operator.speech_model_status import (
    STATE_FAILED,
    FailedAttempt,
    cached_now,
    claim_uid,
    failed_attempt,
    speech_model_status,
)
from asrfleet_operator.status import Problem, status_changed

JOBS = resource_of(JOB)
CLAIMS = resource_of(CLAIM)
PODS = Resource("v1", "pods")
CLAIM_UID_ANNOTATION = f"{GROUP}/claim-uid"
"""On a download Job: the uid of the claim it writes to (a replaced claim needs a new Job)."""
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
"""The Job controller's label on a Job's pods."""


async def reconcile_speech_model(ctx: Context, namespace: str, name: str, logger: Logger) -> None:
    """Converge one SpeechModel, write its status, tell its users when their model changed."""
    async with ctx.model_locks[(namespace, name)]:
        obj = await ctx.client.get(SPEECH_MODELS, namespace, name)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return
        previous: Mapping[str, Any] = obj.get("status") or {}
        status = await converge(ctx, obj, logger)
        if status_changed(status, previous):
            await ctx.client.patch_status(SPEECH_MODELS, namespace, name, status)
        announce(ctx, obj, previous, status)
    if previous.get("state") != status["state"] or previous.get("cached") != status["cached"]:
        await reconcile_users(ctx, namespace, name, logger)


async def converge(ctx: Context, obj: Mapping[str, Any], logger: Logger) -> dict[str, Any]:
    """Make the claim and the Job as they should be; the status that follows."""
    meta = obj["metadata"]
    name, namespace = str(meta["name"]), str(meta["namespace"])
    previous: Mapping[str, Any] = obj.get("status") or {}

    def report(
        spec: SpeechModelSpec | None,
        found: Mapping[str, Any] | None = None,
        job: Mapping[str, Any] | None = None,
        attempt: FailedAttempt | None = None,
        problem: Problem | None = None,
    ) -> dict[str, Any]:
        return speech_model_status(
            name=name,
            generation=meta.get("generation"),
            spec=spec,
            claim=found,
            claim_known=problem is None,
            job=job,
            attempt=attempt,
            problem=problem,
            previous=previous,
        )

    try:
        spec = parse_speech_model(obj.get("spec") or {}, name=name)
    except SpecError as exc:  # the claim keeps what it holds; the users keep serving it
        return report(None, problem=Problem("InvalidSpec", str(exc)))
    owner = owner_of(obj)
    try:
        found = await converge_claim(ctx, owner, spec)
        job = await converge_job(ctx, owner, spec, found, previous)
    except ChildError as exc:
        logger.warning(f"SpeechModel {namespace}/{name}: {exc.reason}: {exc.message}")
        return report(spec, problem=Problem(exc.reason, exc.message))
    attempt = None
    if job is not None and int((job.get("status") or {}).get("failed") or 0) > 0:
        attempt = failed_attempt(await pods_of(ctx, namespace, job))
    return report(spec, found, job, attempt)


async def converge_claim(
    ctx: Context, owner: Mapping[str, Any], spec: SpeechModelSpec
) -> dict[str, Any] | None:
    """The claim that holds the model, as the API server returned it (None: an existing claim
    named in the spec that does not exist)."""
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    existing = spec.storage.existing_claim
    if existing != name:  # the operator's own claim (or, after a switch, its removal)
        outcome = await reconcile_child(ctx.client, CLAIM, claim(name, namespace, spec), owner)
        if existing is None:
            return dict(outcome.current or {})
    try:
        return await ctx.client.get(CLAIMS, namespace, str(existing))
    except ApiError as exc:
        raise classify(CLAIM, exc) from exc


async def converge_job(
    ctx: Context,
    owner: Mapping[str, Any],
    spec: SpeechModelSpec,
    found: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The Job downloading the current revision into this claim: made when the claim does not
    hold it yet, kept until its TTL; any other Job of this SpeechModel is deleted."""
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    wanted, uid = job_name(name, job_key(spec)), claim_uid(found)
    job: dict[str, Any] | None = None
    try:
        for other in await jobs_of(ctx, owner):
            meta = other["metadata"]
            if (
                meta["name"] == wanted
                and (meta.get("annotations") or {}).get(CLAIM_UID_ANNOTATION) == uid
            ):
                job = other
            else:  # another revision's or scheduling's, or written to a claim that was replaced
                await ctx.client.delete(JOBS, namespace, meta["name"])
        cached = cached_now(previous, found, claim_known=True)
        if job is None and found is not None and (cached or {}).get("revision") != revision(spec):
            job = await create_job(ctx, owner, spec, uid)
    except ApiError as exc:
        raise classify(JOB, exc) from exc
    return job


async def create_job(
    ctx: Context, owner: Mapping[str, Any], spec: SpeechModelSpec, uid: str | None
) -> dict[str, Any]:
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    manifest = fetch_job(name, namespace, spec, ctx.settings)
    manifest["metadata"]["annotations"][CLAIM_UID_ANNOTATION] = uid or ""
    wanted = manifest["metadata"]["name"]
    kopf.adopt(manifest, owner=dict(owner))  # type: ignore[arg-type]
    try:
        created: dict[str, Any] = await ctx.client.create(JOBS, namespace, manifest)
        return created
    except ApiError as exc:
        if exc.status != 409:  # made meanwhile (another replica): use it
            raise
        made = [j for j in await jobs_of(ctx, owner) if j["metadata"]["name"] == wanted]
        if not made:
            raise
        return made[0]


async def jobs_of(ctx: Context, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The download Jobs this SpeechModel controls (one LIST, by its label)."""
    name, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    selector = f"{SPEECH_MODEL_LABEL}={name}"
    return [
        job
        async for job in _listed(ctx, JOBS, namespace, selector)
        if (job["metadata"].get("labels") or {}).get(SPEECH_MODEL_LABEL) == name
        and controlled_by(job, owner)
    ]


async def pods_of(ctx: Context, namespace: str, job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pods of a Job (by the Job controller's label with the Job's uid)."""
    uid = str(job["metadata"].get("uid", ""))
    return [
        pod
        async for pod in _listed(ctx, PODS, namespace, f"{JOB_UID_LABEL}={uid}")
        if (pod["metadata"].get("labels") or {}).get(JOB_UID_LABEL) == uid
    ]


async def _listed(
    ctx: Context, resource: Resource, namespace: str | None, selector: str | None
) -> AsyncIterator[dict[str, Any]]:
    params = {"labelSelector": selector} if selector else None
    async for page in ctx.client.list_pages(resource, namespace, params):
        for item in page.get("items") or []:
            yield item


def announce(
    ctx: Context, obj: Mapping[str, Any], previous: Mapping[str, Any], status: Mapping[str, Any]
) -> None:
    """An Event when the state changed: Downloading and Ready as Normal, Failed as Warning with
    the reason (CredentialsRefused, InvalidSource...). Pending is not announced."""
    state = status["state"]
    if state == previous.get("state") or state == "Pending":
        return
    ready = next(cond for cond in status["conditions"] if cond["type"] == "Ready")
    kind = "Warning" if state == STATE_FAILED else "Normal"
    ctx.events.post(obj, kind, str(ready["reason"]), str(ready["message"]))


async def reconcile_users(ctx: Context, namespace: str, name: str, logger: Logger) -> None:
    """Reconcile every SpeechRecognizer in `namespace` whose spec.model names this SpeechModel."""
    async for sr in _listed(ctx, SPEECH_RECOGNIZERS, namespace, None):
        ref = ((sr.get("spec") or {}).get("model") or {}).get("speechModelRef") or {}
        if ref.get("name") != name or (sr.get("metadata") or {}).get("deletionTimestamp"):
            continue
        try:
            await reconcile_and_report(ctx, sr, logger)
        except Exception as exc:  # the sweep tries again
            logger.warning(f"reconcile of {namespace}/{sr['metadata']['name']}: {exc!r}")


async def on_speech_model_event(
    ctx: Context, obj: Mapping[str, Any], type: str | None, logger: Logger
) -> None:
    """One watch event of a SpeechModel (`type` None: listed at start-up)."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    if type == "DELETED":
        ctx.seen.discard(meta.get("uid"))
        await reconcile_users(ctx, namespace, name, logger)  # they report it missing
        return
    if not needs_reconcile(ctx, obj):
        return
    ctx.seen.add(meta.get("uid"))
    try:
        await reconcile_speech_model(ctx, namespace, name, logger)
    except Exception as exc:  # a Job event or the sweep tries again
        logger.warning(f"reconcile of SpeechModel {namespace}/{name}: {exc!r}")


async def refresh_from_job(ctx: Context, job: Mapping[str, Any], logger: Logger) -> None:
    """A download Job changed (its pod started, it succeeded or failed): reconcile its owner."""
    meta = job.get("metadata") or {}
    owner = next(
        (
            ref
            for ref in meta.get("ownerReferences") or []
            if ref.get("controller") and ref.get("kind") == SPEECH_MODEL_KIND
        ),
        None,
    )
    if owner is not None:
        await reconcile_speech_model(ctx, str(meta.get("namespace")), str(owner["name"]), logger)


async def sweep_speech_models(ctx: Context, logger: Logger) -> None:
    """Reconcile every SpeechModel once (drift: a claim deleted by hand, a Job's TTL expired
    after a failure, a missed Job event)."""
    for namespace in ctx.settings.namespaces or (None,):
        try:
            async for obj in _listed(ctx, SPEECH_MODELS, namespace, None):
                meta = obj["metadata"]
                try:
                    await reconcile_speech_model(ctx, meta["namespace"], meta["name"], logger)
                except Exception as exc:  # one bad object must not stop the sweep
                    logger.warning(f"sweep of SpeechModel {meta['name']}: {exc!r}")
        except ApiError as exc:
            missing = (
                " (is crds/asrfleet.io_speechmodels.yaml applied?)" if exc.status == 404 else ""
            )
            where = namespace or "all namespaces"
            logger.warning(f"listing SpeechModels in {where}: {exc}{missing}")
        except Exception as exc:
            logger.warning(f"listing SpeechModels in {namespace or 'all namespaces'}: {exc!r}")
