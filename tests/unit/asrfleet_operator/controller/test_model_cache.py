"""model_cache.model_source: what a SpeechRecognizer makes of the SpeechModel it names (pure)."""

from __future__ import annotations

from asrfleet_operator.controller.model_cache import model_source
from asrfleet_operator.render.speech_model import CachedModel


def model(status: dict[str, object], engine: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"uri": "s3://m/w", "storage": {"size": "1Gi"}}
    if engine:
        spec["engine"] = engine
    return {"spec": spec, "status": status}


def test_a_cached_model_is_mounted_even_while_a_new_revision_downloads() -> None:
    status = {"state": "Downloading", "claimName": "w", "path": "w", "cached": {"revision": "r1"}}
    assert model_source("w", "faster-whisper", model(status)).cached == CachedModel("w", "w", "r1")


def test_a_missing_or_unfinished_model_holds_the_deployment() -> None:
    missing = model_source("w", "faster-whisper", None)
    assert (
        missing.cached is None
        and missing.waiting
        and missing.waiting.reason == "SpeechModelNotFound"
    )
    conditions = [{"type": "Ready", "message": "Job w-1 downloads s3://m/w"}]
    pending = model_source(
        "w", "faster-whisper", model({"state": "Downloading", "conditions": conditions})
    )
    assert pending.waiting and pending.waiting.reason == "WaitingForModel"
    assert pending.waiting.message == "SpeechModel w is Downloading: Job w-1 downloads s3://m/w"
    assert pending.problem is None


def test_a_failed_model_or_another_engine_is_a_problem() -> None:
    failed = model_source("w", "faster-whisper", model({"state": "Failed"}))
    assert failed.problem and failed.problem.reason == "SpeechModelFailed" and failed.cached is None
    other = model_source("w", "faster-whisper", model({}, engine="transformers"))
    assert other.problem and other.problem.reason == "EngineMismatch"
