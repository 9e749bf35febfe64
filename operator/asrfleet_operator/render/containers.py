"""What every pod the operator renders shares: the inference image, the non-root security
context, and the fetching container (`asr-server fetch-model`), which the init container of a
`spec.model.uri` and a SpeechModel's download Job both are.

The fetching container is the only one that gets a credentials Secret: its keys (the contract's
FETCH_SECRET_VARIABLES) become variables by reference (`secretKeyRef`), so no secret value is in
a manifest, and the server container never sees them.
"""

from __future__ import annotations

from typing import Any

from asrfleet_operator.spec import ImageSpec
from asrfleet_operator.spec import contract as c

RUN_AS_USER = 10001  # the inference image's non-root user (see inference_image/Dockerfile)
FETCH_CONTAINER_NAME = "fetch-model"


def tmp_volume() -> dict[str, Any]:
    """/tmp for a container with a read-only root file system."""
    return {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}


def tmp_mount() -> dict[str, Any]:
    return {"name": "tmp", "mountPath": "/tmp"}


def image_ref(image: ImageSpec, default_image: str) -> str:
    """repository:tag, each part falling back to `default_image`, the operator's default
    inference image for the engine (`Settings.inference_image_for`)."""
    default_repo, _, default_tag = default_image.rpartition(":")
    if "/" in default_tag or not default_repo:  # a registry port, not a tag
        default_repo, default_tag = default_image, "latest"
    repository = image.repository or default_repo
    tag = image.tag or (default_tag if not image.repository else "latest")
    return f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    """fsGroup makes a volume's files the image user's group, so a claim is writable for the
    download Job where the volume supports it."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def credential_env(secret: str | None) -> list[dict[str, Any]]:
    """The credentials Secret's keys as variables, each optional (a Secret holds only those its
    source needs); none without a Secret."""
    if secret is None:
        return []
    return [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": var, "optional": True}}}
        for var in c.FETCH_SECRET_VARIABLES
    ]


def fetch_container(
    *,
    image: str,
    pull_policy: str,
    uri: str,
    dest: str,
    mounts: list[dict[str, Any]],
    secret: str | None = None,
    engine: str | None = None,
    log_on_error: bool = False,
) -> dict[str, Any]:
    """`asr-server fetch-model [--engine ENGINE] URI DEST`. `log_on_error`: a failure's last log
    line (fetch-model's one-line error, which never holds a secret) becomes the container's
    termination message, where the operator reads why a download Job failed."""
    engine_flag = ["--engine", engine] if engine else []
    container: dict[str, Any] = {
        "name": FETCH_CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["asr-server"],
        "args": ["fetch-model", *engine_flag, uri, dest],
    }
    env = credential_env(secret)
    if env:
        container["env"] = env
    container.update(
        {
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"memory": "1Gi"},
            },
            "securityContext": container_security_context(),
            "volumeMounts": mounts,
        }
    )
    if log_on_error:
        container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    return container
