"""A SpeechRecognizer's side of a model cache: what its `spec.model.speechModelRef` names,
read from the SpeechModel's status (one GET per reconcile).

- the claim holds a model (`status.cached`, even while a new revision downloads): the pods
  mount it (`CachedModel`);
- the SpeechModel is missing, or has not finished its first download: the Deployment is held
  back (none created, a running one left as it is), the status says what it waits for;
- the SpeechModel failed with nothing cached, or is for another engine: Degraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asrfleet_operator.controller.context import Context
from asrfleet_operator.kube import Resource
from asrfleet_operator.render.labels import API_VERSION, SPEECH_MODEL_PLURAL
from asrfleet_operator.render.speech_model import CachedModel
from asrfleet_operator.spec import SpeechRecognizerSpec
from asrfleet_operator.speech_model_status import STATE_FAILED
from asrfleet_operator.status import Problem

SPEECH_MODELS = Resource(API_VERSION, SPEECH_MODEL_PLURAL)
CACHE_REASONS = frozenset({"SpeechModelFailed", "EngineMismatch"})
"""Degraded reasons of a SpeechRecognizer that come from its SpeechModel."""


@dataclass(frozen=True)
class ModelSource:
    """How a SpeechRecognizer's model stands: mount `cached`, or wait, or a problem."""

    cached: CachedModel | None = None
    waiting: Problem | None = None
    """Why the Deployment is held back (phase Pending while none exists)."""
    problem: Problem | None = None


def model_source(ref: str, engine: str, speech_model: Mapping[str, Any] | None) -> ModelSource:
    """Pure: the SpeechModel named `ref`, as the API server returned it (None: absent)."""
    if speech_model is None:
        return ModelSource(
            waiting=Problem("SpeechModelNotFound", f"SpeechModel {ref} does not exist (yet)")
        )
    wanted = (speech_model.get("spec") or {}).get("engine") or "faster-whisper"
    if wanted != engine:
        return ModelSource(
            problem=Problem(
                "EngineMismatch",
                f"SpeechModel {ref} holds a model for {wanted}, spec.model.engine is {engine}",
            )
        )
    status = speech_model.get("status") or {}
    cached = status.get("cached") or {}
    if cached.get("revision") and status.get("claimName") and status.get("path"):
        claim, path = str(status["claimName"]), str(status["path"])
        return ModelSource(cached=CachedModel(claim, path, str(cached["revision"])))
    ready: Mapping[str, Any] = next(
        (cond for cond in status.get("conditions") or [] if cond.get("type") == "Ready"), {}
    )
    state = status.get("state") or "Pending"
    detail = f"SpeechModel {ref} is {state}: {ready.get('message') or 'not reconciled yet'}"
    if state == STATE_FAILED:
        return ModelSource(problem=Problem("SpeechModelFailed", detail))
    return ModelSource(waiting=Problem("WaitingForModel", detail))


async def resolve_model(ctx: Context, namespace: str, spec: SpeechRecognizerSpec) -> ModelSource:
    """The model source of a spec: nothing to resolve unless it names a SpeechModel."""
    ref = spec.model.speech_model
    if ref is None:
        return ModelSource()
    found = await ctx.client.get(SPEECH_MODELS, namespace, ref)
    return model_source(ref, spec.model.engine, found)
