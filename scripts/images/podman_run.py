"""A Kubernetes pod spec's container as `podman run` flags, so that the image smoke test runs
the image exactly as the kubelet would run the rendered container (and not from a second,
hand-written copy of its settings).

Mapped: the user and groups (runAsUser, runAsGroup, fsGroup, supplementalGroups; runAsNonRoot
is checked), readOnlyRootFilesystem (`--read-only` without podman's own writable tmpfs dirs,
so only the pod's volumes can be written), capabilities, allowPrivilegeEscalation
(no-new-privileges), the seccomp profile, emptyDir volumes (tmpfs at their mount paths, sized
by sizeLimit, empty as an emptyDir is), command and args, env values, workingDir, CPU and
memory limits, the container ports and the grace period; the image's HEALTHCHECK is off, as
the kubelet ignores it. Left to the caller: the pod network and the API credentials a service
account would bring, and, where a pod uses them, the directory standing in for each
PersistentVolumeClaim (`claims`: a bind mount, read-only where the pod mounts it so) and the
Secrets its env references (`secrets`: each secretKeyRef resolved as the kubelet resolves it,
an optional key that is absent left unset; the values reach podman through its environment,
`--env NAME`, never its argv), and the pod's own metadata for the downward API (`pod`:
env `fieldRef`s to metadata.name, metadata.namespace and spec.serviceAccountName resolve as
the kubelet resolves them). Scheduling fields (requests, node selectors, tolerations) mean
nothing on one machine. What a kubelet would do and podman cannot here (other volumes, other
valueFrom, init containers, GPUs) is refused with `UnsupportedPodSpec` rather than left out
silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kubernetes.utils import parse_quantity

DEFAULT_GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds
EMPTY_DIR_MODE = "0777"  # what the kubelet gives an emptyDir's directory
LIMIT_FLAGS = {"cpu": "--cpus", "memory": "--memory"}
PROBE_KINDS = ("startup", "readiness", "liveness")


class UnsupportedPodSpec(ValueError):
    """The pod spec asks for something this mapping cannot reproduce with podman."""


@dataclass(frozen=True)
class PodMeta:
    """What the downward API tells a container about its pod."""

    name: str
    namespace: str


@dataclass(frozen=True)
class HttpProbe:
    """An httpGet probe resolved to the container port it targets."""

    path: str
    port: int


@dataclass(frozen=True)
class PodmanRun:
    """One container of a pod as podman runs it."""

    options: tuple[str, ...]
    """Everything between `podman run` and the image."""
    image: str
    args: tuple[str, ...]
    """What follows the image (the container's args)."""
    ports: Mapping[str, int]
    """Container ports by name (unnamed ones by their number)."""
    probes: Mapping[str, HttpProbe]
    """The httpGet probes by kind: startup, readiness, liveness."""
    grace_seconds: int
    """terminationGracePeriodSeconds: how long SIGTERM may take before SIGKILL."""
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Variables from Secrets: podman's own environment must hold them (`--env NAME`)."""

    def argv(self, *extra_options: str) -> list[str]:
        """The full `podman run` command; `extra_options` are the caller's (name, network)."""
        return ["podman", "run", *extra_options, *self.options, self.image, *self.args]


def podman_run(
    pod_spec: Mapping[str, Any],
    container_name: str,
    *,
    claims: Mapping[str, Path] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    pod: PodMeta | None = None,
) -> PodmanRun:
    """Map `pod_spec` (a Deployment's or Job's spec.template.spec) for its container
    `container_name`; `claims`: claim name -> the directory standing in for it; `secrets`:
    Secret name -> its data; `pod`: the pod's name and namespace, for env fieldRefs."""
    if pod_spec.get("initContainers"):
        names = ", ".join(c.get("name", "?") for c in pod_spec["initContainers"])
        raise UnsupportedPodSpec(f"init containers ({names}) are not run by this mapping")
    containers = {c.get("name"): c for c in pod_spec.get("containers", [])}
    if container_name not in containers:
        known = ", ".join(map(str, containers))
        raise UnsupportedPodSpec(f"no container {container_name!r} in the pod spec ({known})")
    container = containers[container_name]
    ports = _ports(container)
    secret_env = _secret_env(container, secrets or {})
    options = [
        *_identity(pod_spec, container),
        *_security(pod_spec, container),
        *_volumes(pod_spec, container, claims or {}),
        *_env(pod_spec, container, pod),
        *(item for name in secret_env for item in ("--env", name)),  # values: podman's env
        *_limits(container),
        *_publish(ports),
    ]
    if "workingDir" in container:
        options += ["--workdir", str(container["workingDir"])]
    grace = int(pod_spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))
    options += ["--stop-timeout", str(grace)]
    # The kubelet runs the pod's probes and ignores the image's HEALTHCHECK.
    options += ["--health-cmd", "none"]
    if "command" in container:
        # As in Kubernetes, a command replaces the image's ENTRYPOINT and drops its CMD.
        options += ["--entrypoint", json.dumps(list(container["command"]))]
    return PodmanRun(
        options=tuple(options),
        image=str(container["image"]),
        args=tuple(str(a) for a in container.get("args", [])),
        ports=ports,
        probes={
            kind: probe
            for kind in PROBE_KINDS
            if (probe := _http_probe(container.get(f"{kind}Probe"), ports)) is not None
        },
        grace_seconds=grace,
        secret_env=secret_env,
    )


def _quantity(text: str | int) -> Decimal:
    """A Kubernetes quantity ("1Gi", "500m") as a number, parsed by the Kubernetes client."""
    return Decimal(parse_quantity(text))  # type: ignore[no-untyped-call]


def _merged_security(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The container's securityContext over the pod's (the container's fields win)."""
    return {**pod_spec.get("securityContext", {}), **container.get("securityContext", {})}


def _identity(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    security = _merged_security(pod_spec, container)
    uid, gid = security.get("runAsUser"), security.get("runAsGroup")
    if security.get("runAsNonRoot") and (uid is None or int(uid) == 0):
        # The kubelet checks the image's numeric USER then; this mapping wants it spelled out.
        raise UnsupportedPodSpec("runAsNonRoot needs a non-zero runAsUser in the pod spec")
    options: list[str] = []
    if uid is not None:
        options += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    pod_security = pod_spec.get("securityContext", {})
    groups = [pod_security["fsGroup"]] if "fsGroup" in pod_security else []
    groups += pod_security.get("supplementalGroups", [])
    for group in groups:
        options += ["--group-add", str(group)]
    return options


def _security(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    security = _merged_security(pod_spec, container)
    if security.get("privileged"):
        raise UnsupportedPodSpec("privileged containers are not run by this mapping")
    options: list[str] = []
    if security.get("readOnlyRootFilesystem"):
        # podman would otherwise mount its own writable tmpfs on /tmp, /var/tmp and /run: the
        # pod has none of them, only its volumes.
        options += ["--read-only", "--read-only-tmpfs=false"]
    capabilities = security.get("capabilities", {})
    for cap in capabilities.get("drop", []):
        options += ["--cap-drop", str(cap)]
    for cap in capabilities.get("add", []):
        options += ["--cap-add", str(cap)]
    if security.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    seccomp = security.get("seccompProfile", {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        options += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":  # podman's default profile is the runtime default
        raise UnsupportedPodSpec(f"seccompProfile {seccomp} is not run by this mapping")
    return options


def _volumes(
    pod_spec: Mapping[str, Any], container: Mapping[str, Any], claims: Mapping[str, Path]
) -> list[str]:
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    options: list[str] = []
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"])
        if volume is None:
            raise UnsupportedPodSpec(f"volumeMount {mount['name']} names no volume of the pod")
        if "subPath" in mount:
            raise UnsupportedPodSpec(f"volumeMount {mount['name']} uses subPath")
        if "persistentVolumeClaim" in volume:
            options += ["--mount", _claim_mount(volume, mount, claims)]
            continue
        if "emptyDir" not in volume:
            kinds = ", ".join(k for k in volume if k != "name")
            raise UnsupportedPodSpec(f"volume {mount['name']} ({kinds}) is not an emptyDir")
        # tmpfs, and empty: an emptyDir hides what the image has at that path (notmpcopyup).
        fields = [
            "type=tmpfs",
            f"destination={mount['mountPath']}",
            f"tmpfs-mode={EMPTY_DIR_MODE}",
            "notmpcopyup",
        ]
        size = (volume["emptyDir"] or {}).get("sizeLimit")
        if size is not None:
            fields.append(f"tmpfs-size={int(_quantity(size))}")
        if mount.get("readOnly"):
            fields.append("ro=true")
        options += ["--mount", ",".join(fields)]
    return options


def _claim_mount(
    volume: Mapping[str, Any], mount: Mapping[str, Any], claims: Mapping[str, Path]
) -> str:
    """A claim as a bind mount of the directory given for it."""
    claim = volume["persistentVolumeClaim"]
    directory = claims.get(claim["claimName"])
    if directory is None:
        raise UnsupportedPodSpec(
            f"volume {mount['name']} is the claim {claim['claimName']}: no directory given for it"
        )
    fields = ["type=bind", f"source={directory}", f"destination={mount['mountPath']}"]
    if mount.get("readOnly") or claim.get("readOnly"):
        fields.append("ro=true")
    return ",".join(fields)


def _secret_env(
    container: Mapping[str, Any], secrets: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The container's secretKeyRef variables, resolved (an absent optional key: unset)."""
    found: dict[str, str] = {}
    for entry in container.get("env", []):
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        if ref is None:
            continue
        value = (secrets.get(ref["name"]) or {}).get(ref["key"])
        if value is not None:
            found[entry["name"]] = value
        elif not ref.get("optional"):  # the kubelet: CreateContainerConfigError
            raise UnsupportedPodSpec(
                f"env {entry['name']} needs the key {ref['key']} of the Secret {ref['name']}"
            )
    return found


def _field_value(pod_spec: Mapping[str, Any], pod: PodMeta | None, path: str) -> str | None:
    """A downward-API fieldPath the mapping knows, resolved (None: not one of those)."""
    if path == "spec.serviceAccountName":
        return str(pod_spec.get("serviceAccountName", "default"))
    if path in ("metadata.name", "metadata.namespace"):
        if pod is None:
            raise UnsupportedPodSpec(f"the env asks for {path}: pass the pod's name and namespace")
        return pod.name if path == "metadata.name" else pod.namespace
    return None


def _env(
    pod_spec: Mapping[str, Any], container: Mapping[str, Any], pod: PodMeta | None
) -> list[str]:
    options: list[str] = []
    for entry in container.get("env", []):
        source = entry.get("valueFrom") or {}
        if "value" in entry:
            options += ["--env", f"{entry['name']}={entry['value']}"]
        elif "fieldRef" in source:
            path = str(source["fieldRef"].get("fieldPath", ""))
            value = _field_value(pod_spec, pod, path)
            if value is None:
                raise UnsupportedPodSpec(f"env {entry['name']} reads {path}, not mapped here")
            options += ["--env", f"{entry['name']}={value}"]
        elif "secretKeyRef" not in source:
            raise UnsupportedPodSpec(
                f"env {entry['name']} comes from a valueFrom other than a Secret or a fieldRef"
            )
    if container.get("envFrom"):
        raise UnsupportedPodSpec("envFrom is not run by this mapping")
    return options


def _limits(container: Mapping[str, Any]) -> list[str]:
    options: list[str] = []
    for resource, quantity in container.get("resources", {}).get("limits", {}).items():
        flag = LIMIT_FLAGS.get(resource)
        if flag is None:
            raise UnsupportedPodSpec(f"resource limit {resource} cannot be given to podman here")
        options += [flag, str(_quantity(quantity).normalize())]
    return options


def _ports(container: Mapping[str, Any]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for port in container.get("ports", []):
        if port.get("protocol", "TCP") != "TCP":
            raise UnsupportedPodSpec(f"port {port['containerPort']}: only TCP is published")
        number = int(port["containerPort"])
        ports[str(port.get("name", number))] = number
    return ports


def _publish(ports: Mapping[str, int]) -> list[str]:
    # A free port on the host's loopback for each (read back with `podman port`).
    return [item for number in ports.values() for item in ("--publish", f"127.0.0.1::{number}")]


def _http_probe(probe: Mapping[str, Any] | None, ports: Mapping[str, int]) -> HttpProbe | None:
    if not probe or "httpGet" not in probe:
        return None
    http = probe["httpGet"]
    port = http["port"]
    if isinstance(port, str) and not port.isdigit():
        if port not in ports:
            raise UnsupportedPodSpec(f"probe port {port!r} names no container port")
        port = ports[port]
    return HttpProbe(path=str(http.get("path", "/")), port=int(port))
