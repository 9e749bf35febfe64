"""A SpeechModel's status from what really is: its claim, its download Job and that Job's
failed pods, plus any problem the operator found. Pure, like status.py.

States: Pending (the Job's pod does not run yet: the claim binding, a node, the image; or an
existing claim not found), Downloading (the pod runs), Ready (the claim holds the model of the
current uri), Failed (the download failed for good, with fetch-model's reason: a wrong URI,
refused credentials...; or a spec or claim the operator cannot use). `cached` records what the
claim holds; it outlives a new revision's download, so the SpeechRecognizers keep serving it
meanwhile.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asrfleet_operator.render.containers import FETCH_CONTAINER_NAME
from asrfleet_operator.render.speech_model import (
    FETCH_BACKOFF_LIMIT,
    claim_name,
    model_path,
    revision,
    shown_uri,
)
from asrfleet_operator.spec import SpeechModelSpec
from asrfleet_operator.spec import contract as c
from asrfleet_operator.status import (
    DEGRADED,
    PENDING,
    PROGRESSING,
    READY,
    Phase,
    Problem,
    conditions,
)

STATE_PENDING, STATE_DOWNLOADING, STATE_READY, STATE_FAILED = (
    "Pending",
    "Downloading",
    "Ready",
    "Failed",
)
CONDITION_PHASE = {
    STATE_PENDING: PENDING,
    STATE_DOWNLOADING: PROGRESSING,
    STATE_READY: READY,
    STATE_FAILED: DEGRADED,
}
"""A state -> the phase its Ready/Progressing/Degraded conditions are computed from."""
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class State:
    state: str
    reason: str
    message: str


@dataclass(frozen=True)
class FailedAttempt:
    """The last failed download pod: fetch-model's exit code and its one-line error."""

    exit_code: int | None
    message: str

    @property
    def reason(self) -> str:
        return c.FETCH_EXIT_REASONS.get(self.exit_code or 0, "DownloadFailed")


def failed_attempt(pods: Sequence[Mapping[str, Any]]) -> FailedAttempt | None:
    """The most recent failed fetch container among a Job's pods, or None."""
    found: list[tuple[str, FailedAttempt]] = []
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            ended = (status.get("state") or {}).get("terminated") or {}
            code = ended.get("exitCode")
            if status.get("name") != FETCH_CONTAINER_NAME or not code:
                continue
            found.append((str(ended.get("finishedAt", "")), FailedAttempt(code, _last_line(ended))))
    return max(found, key=lambda item: item[0])[1] if found else None


def _last_line(terminated: Mapping[str, Any]) -> str:
    """The termination message's last line (the log's, with FallbackToLogsOnError), or what
    Kubernetes says about the exit (OOMKilled, Error)."""
    lines = [line.strip() for line in str(terminated.get("message") or "").splitlines()]
    lines = [line for line in lines if line]
    if lines:
        return lines[-1][:MAX_MESSAGE]
    return f"exit code {terminated.get('exitCode')} ({terminated.get('reason') or 'Error'})"


def job_condition(job: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def claim_uid(claim: Mapping[str, Any] | None) -> str | None:
    uid = ((claim or {}).get("metadata") or {}).get("uid")
    return str(uid) if uid else None


def cached_now(
    previous: Mapping[str, Any], claim: Mapping[str, Any] | None, claim_known: bool
) -> dict[str, Any] | None:
    """What the claim holds, as recorded, while it is still the claim recorded (a claim that is
    gone or was replaced holds nothing). `claim_known`: the claim was read (not an error)."""
    cached = previous.get("cached")
    if not isinstance(cached, Mapping):
        return None
    if claim_known and claim_uid(claim) != cached.get("claimUID"):
        return None
    return dict(cached)


def download_state(
    spec: SpeechModelSpec,
    claim_text: str,
    claim: Mapping[str, Any] | None,
    job: Mapping[str, Any] | None,
    attempt: FailedAttempt | None,
    cached: Mapping[str, Any] | None,
) -> State:
    """The state when the spec and the claim are usable (problems are reported before)."""
    uri = shown_uri(spec.uri)
    current = cached is not None and cached.get("revision") == revision(spec)
    if current or (job is not None and job_condition(job, "Complete")):
        return State(STATE_READY, "ModelReady", f"the claim {claim_text} holds {uri}")
    if claim is None:
        return State(
            STATE_PENDING,
            "ClaimNotFound",
            f"the claim {claim_text} does not exist (storage.existingClaim)",
        )
    if job is None:
        return State(STATE_PENDING, "JobPending", f"creating the Job that downloads {uri}")
    job_name = job["metadata"]["name"]
    kept = ""
    if cached is not None:
        kept = f"; the claim still holds {cached.get('uri')}, which keeps being served"
    failed = job_condition(job, "Failed")
    if failed is not None:
        if attempt is not None:
            return State(STATE_FAILED, attempt.reason, f"{attempt.message}{kept}")
        reason = str(failed.get("reason") or "DownloadFailed")
        return State(STATE_FAILED, reason, f"Job {job_name}: {failed.get('message', '')}{kept}")
    job_status = job.get("status") or {}
    retry = ""
    failures = int(job_status.get("failed") or 0)
    if failures and attempt is not None:
        retry = (
            f" (attempt {failures + 1} of {FETCH_BACKOFF_LIMIT + 1}; the last failed:"
            f" {attempt.message})"
        )
    if int(job_status.get("ready") or 0) > 0:
        return State(STATE_DOWNLOADING, "Downloading", f"Job {job_name} downloads {uri}{retry}")
    return State(
        STATE_PENDING,
        "WaitingForPod",
        f"Job {job_name}: its pod does not run yet (the claim binding, a node, the image){retry}",
    )


def speech_model_status(
    *,
    name: str,
    generation: int | None,
    spec: SpeechModelSpec | None,
    claim: Mapping[str, Any] | None,
    claim_known: bool,
    job: Mapping[str, Any] | None,
    attempt: FailedAttempt | None,
    problem: Problem | None,
    previous: Mapping[str, Any],
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The full status to write; keys set to None are removed by the merge-patch."""
    cached = cached_now(previous, claim, claim_known)
    if spec is None or problem is not None:
        problem = problem or Problem("InvalidSpec", "")
        state = State(STATE_FAILED, problem.reason, problem.message)
    else:
        state = download_state(spec, claim_name(name, spec), claim, job, attempt, cached)
        if state.state == STATE_READY and job is not None and job_condition(job, "Complete"):
            cached = {
                "uri": shown_uri(spec.uri),
                "engine": spec.engine,
                "revision": revision(spec),
                "claimUID": claim_uid(claim),
            }
    status: dict[str, Any] = {
        "state": state.state,
        "claimName": claim_name(name, spec) if spec else previous.get("claimName"),
        "path": model_path(name),
        "jobName": job["metadata"]["name"] if job is not None else None,
        "cached": cached,
    }
    if generation is not None:
        status["observedGeneration"] = generation
    phase = Phase(CONDITION_PHASE[state.state], state.reason, state.message[:MAX_MESSAGE])
    status["conditions"] = conditions(
        phase, generation, previous.get("conditions") or [], now, complete_reason="ModelReady"
    )
    return status
