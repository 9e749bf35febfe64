"""A SpeechModel's children, pure: the PersistentVolumeClaim that holds the model (unless the
spec names an existing claim) and the Job that downloads the model into it with the inference
image's `asr-server fetch-model`; and `CachedModel`, what a SpeechRecognizer's pods mount once
the claim holds the model.

The model goes into the directory named after the SpeechModel, below the claim's root (DEST
is replaced by a rename, so it cannot be the mount point itself). A new revision is a new uri:
its Job (a new name: the revision is in it) fetches into the same directory, beside the old
model, and renames it into place only when complete; pods that already run keep what they
loaded, and the SpeechRecognizers roll to the new revision once the Job has succeeded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from asrfleet_operator.render.containers import (
    fetch_container,
    image_ref,
    pod_security_context,
    tmp_mount,
    tmp_volume,
)
from asrfleet_operator.render.labels import GROUP, speech_model_labels
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import ImageSpec, SpeechModelSpec
from asrfleet_operator.spec import contract as c

CACHE_MOUNT = "/model-cache"
"""Where the claim is mounted: read-write in the download Job, read-only in server pods."""
CACHE_VOLUME = "model-cache"
FETCH_BACKOFF_LIMIT = 3
"""Retries of a download that failed for a reason a retry can fix (the source unreachable,
the pod evicted or killed); the permanent failures fail the Job at once (its podFailurePolicy)."""
FETCH_TTL_SECONDS = 3600
"""A finished Job, with its pod and log, stays this long, then Kubernetes deletes it. After a
failure the operator then starts a new one: a fixed Secret or a source back online is picked
up within the hour (or at once, by deleting the failed Job)."""
REVISION_ANNOTATION = f"{GROUP}/model-revision"
"""On the Job (and the server pods): the revision (`revision()`) it downloads."""
URI_ANNOTATION = f"{GROUP}/model-uri"
"""On the Job: the uri it downloads, as `shown_uri` shows it."""


@dataclass(frozen=True)
class CachedModel:
    """A claim holding a complete model: what a SpeechRecognizer's pods mount."""

    claim: str
    """The PersistentVolumeClaim."""
    path: str
    """The model's directory within it."""
    revision: str
    """`revision()` of what it holds: a new one rolls the pods."""

    @property
    def model_dir(self) -> str:
        """The model's directory as a server container sees it."""
        return f"{CACHE_MOUNT}/{self.path}"


def revision(spec: SpeechModelSpec) -> str:
    """What the claim must hold, in 10 hex digits: the uri and the engine (whose files are
    fetched). It names the Job, so a new uri is a new Job (a Job's pod template is immutable)."""
    return hashlib.sha256(f"{spec.engine}\n{spec.uri}".encode()).hexdigest()[:10]


def job_key(spec: SpeechModelSpec) -> str:
    """The Job's name suffix: the revision, mixed with the scheduling when the spec sets any. A
    Job's pod template is immutable, so new scheduling (a toleration for an unschedulable
    download) is a new Job; it is not a new revision: a claim that holds it is not filled again."""
    rev = revision(spec)
    if not spec.node_selector and not spec.tolerations:
        return rev
    scheduling = json.dumps([spec.node_selector, spec.tolerations], sort_keys=True, default=dict)
    return hashlib.sha256(f"{rev}\n{scheduling}".encode()).hexdigest()[:10]


def claim_name(name: str, spec: SpeechModelSpec) -> str:
    """The claim that holds the model: the existing one named, or the one named after it."""
    return spec.storage.existing_claim or name


def model_path(name: str) -> str:
    """The model's directory within the claim (several SpeechModels may share one claim)."""
    return name


def job_name(name: str, key: str) -> str:
    """At most 63 characters (a label value: the Job's pods carry it) for names of at most
    MAX_NAME_LENGTH; `key` is `job_key()`."""
    return f"{name}-{key}"


def shown_uri(uri: str) -> str:
    """The uri without what may be secret (a password, a signed query), for status and Events."""
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def claim(name: str, namespace: str, spec: SpeechModelSpec) -> dict[str, Any] | None:
    """The new claim, or None when the spec names an existing one (never created, changed or
    deleted by the operator)."""
    storage = spec.storage
    if storage.existing_claim is not None:
        return None
    claim_spec: dict[str, Any] = {
        "accessModes": list(storage.access_modes),
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class_name:
        claim_spec["storageClassName"] = storage.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "labels": speech_model_labels(name)},
        "spec": claim_spec,
    }


def scheduling(spec: SpeechModelSpec) -> dict[str, Any]:
    """The download pod's nodeSelector and tolerations, as the spec sets them (none by default:
    any node the claim can be attached to)."""
    result: dict[str, Any] = {}
    if spec.node_selector:
        result["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        result["tolerations"] = [dict(t) for t in spec.tolerations]
    return result


def fetch_job(
    name: str, namespace: str, spec: SpeechModelSpec, settings: Settings
) -> dict[str, Any]:
    """The Job that downloads `spec.uri` into the claim: the operator's inference image, non-root
    as every server pod, the credentials Secret in its container only."""
    rev = revision(spec)
    container = fetch_container(
        image=image_ref(ImageSpec(), settings.inference_image),  # fetch-model: every build has it
        pull_policy=settings.image_pull_policy,
        uri=spec.uri,
        dest=f"{CACHE_MOUNT}/{model_path(name)}",
        mounts=[tmp_mount(), {"name": CACHE_VOLUME, "mountPath": CACHE_MOUNT}],
        secret=spec.credentials_secret,
        engine=spec.engine,
        log_on_error=True,
    )
    labels = speech_model_labels(name)
    permanent = {
        "containerName": container["name"],
        "operator": "In",
        "values": list(c.FETCH_PERMANENT_EXIT_CODES),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(name, job_key(spec)),
            "namespace": namespace,
            "labels": labels,
            "annotations": {REVISION_ANNOTATION: rev, URI_ANNOTATION: shown_uri(spec.uri)},
        },
        "spec": {
            "backoffLimit": FETCH_BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": FETCH_TTL_SECONDS,
            "podFailurePolicy": {
                "rules": [
                    {"action": "FailJob", "onExitCodes": permanent},
                    # An evicted or preempted pod is not the download's fault: not counted.
                    {
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                ]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    **scheduling(spec),
                    "volumes": [
                        tmp_volume(),
                        {
                            "name": CACHE_VOLUME,
                            "persistentVolumeClaim": {"claimName": claim_name(name, spec)},
                        },
                    ],
                },
            },
        },
    }
