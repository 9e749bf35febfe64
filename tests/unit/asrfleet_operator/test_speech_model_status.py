"""speech_model_status: a SpeechModel's state from its claim, Job and failed pods (pure)."""

from __future__ import annotations

from typing import Any

from asrfleet_operator.render.speech_model import revision
from asrfleet_operator.spec import parse_speech_model
from asrfleet_operator.speech_model_status import (
    FailedAttempt,
    failed_attempt,
    speech_model_status,
)
from asrfleet_operator.status import Problem

SPEC = parse_speech_model({"uri": "s3://models/w/", "storage": {"size": "1Gi"}}, name="w")
CLAIM = {"metadata": {"name": "w", "uid": "claim-1"}}
JOB = {"metadata": {"name": f"w-{revision(SPEC)}", "uid": "job-1"}}


def status(
    job_status: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
    claim: dict[str, Any] | None = CLAIM,
    attempt: FailedAttempt | None = None,
    problem: Problem | None = None,
) -> dict[str, Any]:
    job = None if job_status is None else {**JOB, "status": job_status}
    return speech_model_status(
        name="w",
        generation=1,
        spec=SPEC,
        claim=claim,
        claim_known=problem is None,
        job=job,
        attempt=attempt,
        problem=problem,
        previous=previous or {},
    )


def ready(found: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in found["conditions"] if c["type"] == "Ready")


def pod(code: int, message: str, finished: str) -> dict[str, Any]:
    ended = {"exitCode": code, "message": message, "finishedAt": finished}
    return {
        "status": {"containerStatuses": [{"name": "fetch-model", "state": {"terminated": ended}}]}
    }


def test_the_states_follow_the_job() -> None:
    assert status()["state"] == "Pending" and ready(status())["reason"] == "JobPending"
    assert status({"active": 1})["state"] == "Pending", "a pod that does not run yet"
    assert status({"active": 1, "ready": 1})["state"] == "Downloading"
    done = status({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
    assert done["state"] == "Ready"
    assert done["cached"] == {
        "uri": "s3://models/w/", "engine": "faster-whisper", "revision": revision(SPEC),
        "claimUID": "claim-1",
    }  # fmt: skip
    assert status(None, previous={"cached": done["cached"]})["state"] == "Ready", "after the TTL"


def test_a_replaced_claim_holds_nothing() -> None:
    cached = {"revision": revision(SPEC), "claimUID": "claim-0"}
    found = status(None, previous={"cached": cached})
    assert found["state"] == "Pending" and found["cached"] is None


def test_an_old_revision_stays_cached_while_a_new_one_downloads_or_fails() -> None:
    old = {"uri": "s3://models/old/", "revision": "0000000000", "claimUID": "claim-1"}
    assert status({"active": 1, "ready": 1}, previous={"cached": old})["cached"] == old
    failed = {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "X"}]}
    attempt = FailedAttempt(5, "asr-server fetch-model: refused")
    found = status(failed, previous={"cached": old}, attempt=attempt)
    assert found["state"] == "Failed" and found["cached"] == old
    assert ready(found)["reason"] == "CredentialsRefused"
    assert "still holds s3://models/old/" in ready(found)["message"]


def test_the_latest_failed_pod_tells_why() -> None:
    pods = [
        pod(3, "fetching\nasr-server fetch-model: timed out\n", "2026-12-01T10:00:00Z"),
        pod(5, "asr-server fetch-model: refused\n\n", "2026-12-01T10:05:00Z"),
        {"status": {"containerStatuses": [{"name": "fetch-model", "state": {"running": {}}}]}},
    ]
    assert failed_attempt(pods) == FailedAttempt(5, "asr-server fetch-model: refused")
    assert failed_attempt([pod(137, "", "t")]) == FailedAttempt(137, "exit code 137 (Error)")
    assert FailedAttempt(137, "").reason == "DownloadFailed"
    assert failed_attempt([]) is None


def test_a_retry_says_which_attempt_and_why_the_last_failed() -> None:
    attempt = FailedAttempt(3, "asr-server fetch-model: timed out")
    found = status({"active": 1, "ready": 1, "failed": 1}, attempt=attempt)
    assert found["state"] == "Downloading"
    assert (
        "attempt 2 of 4; the last failed: asr-server fetch-model: timed out"
        in ready(found)["message"]
    )


def test_a_problem_fails_it_and_keeps_what_is_cached() -> None:
    cached = {"revision": "r", "claimUID": "claim-1"}
    found = status(
        None, previous={"cached": cached}, claim=None, problem=Problem("ChildConflict", "x")
    )
    assert found["state"] == "Failed" and found["cached"] == cached
    degraded = next(c for c in found["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "ChildConflict"


def test_a_missing_existing_claim_is_pending() -> None:
    spec = parse_speech_model({"uri": "s3://m/w", "storage": {"existingClaim": "team"}}, name="w")
    found = speech_model_status(
        name="w", generation=1, spec=spec, claim=None, claim_known=True, job=None, attempt=None,
        problem=None, previous={},
    )  # fmt: skip
    assert found["state"] == "Pending" and ready(found)["reason"] == "ClaimNotFound"
    assert found["claimName"] == "team"
