"""Run a rendered container as the kubelet would, as a local process: its command and args,
its env with every secretKeyRef resolved from the Secrets given (an optional key that is absent
stays unset, a required one is an error, as CreateContainerConfigError), its volume mounts as
directories, the user of its securityContext when this process may switch to it, and nothing
from this machine's environment but PATH (HOME points nowhere, as on a read-only root).

What the kubelet's `terminationMessagePolicy: FallbackToLogsOnError` makes of a failure is the
log's tail; `terminated()` gives the container status a pod would report."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
"""Where `asr-server` is installed here (the image has it on PATH)."""


@dataclass(frozen=True)
class Exited:
    code: int
    log: str
    """stdout then stderr, as `kubectl logs` shows a container's output."""

    def terminated(self) -> dict[str, Any]:
        """The pod's containerStatuses entry for it (FallbackToLogsOnError)."""
        state = {"exitCode": self.code, "reason": "Completed" if self.code == 0 else "Error"}
        if self.code:
            state["message"] = self.log[-2048:]
        return {"name": "fetch-model", "state": {"terminated": state}}


def container_env(
    container: Mapping[str, Any], secrets: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in container.get("env") or []:
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        value = (secrets.get(ref["name"]) or {}).get(ref["key"])
        if value is not None:
            env[entry["name"]] = value
        elif not ref.get("optional"):
            raise AssertionError(f"CreateContainerConfigError: {ref} is missing")
    return env


def container_argv(container: Mapping[str, Any], mounts: Mapping[str, Path]) -> list[str]:
    """command + args, a mount path at the start of an argument replaced by its directory."""
    argv = [*container["command"], *container.get("args", [])]
    result = []
    for arg in argv:
        for mount_path, directory in mounts.items():
            if arg == mount_path or arg.startswith(mount_path + "/"):
                arg = str(directory) + arg.removeprefix(mount_path)
                break
        result.append(arg)
    if result and not os.path.isabs(result[0]):
        result[0] = str(VENV_BIN / result[0])
    return result


def run_container(
    container: Mapping[str, Any],
    *,
    secrets: Mapping[str, Mapping[str, str]],
    mounts: Mapping[str, Path],
    timeout_s: float = 300,
) -> Exited:
    declared = {m["mountPath"] for m in container.get("volumeMounts") or []}
    assert set(mounts) <= declared, f"{set(mounts) - declared} is not mounted in the container"
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": "/nonexistent",
        **container_env(container, secrets),
    }
    user = run_as(container)
    done = subprocess.run(
        container_argv(container, mounts),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        user=user,
        group=user,
        check=False,
    )
    return Exited(done.returncode, done.stdout + done.stderr)


def run_as(container: Mapping[str, Any]) -> int | None:
    """The securityContext's runAsUser, when this process is root and that user can run this
    Python (not when it lives in root's home); None: run as this process's user."""
    uid = int((container.get("securityContext") or {}).get("runAsUser") or 0)
    return uid if uid and can_run_as(uid) else None


@functools.cache
def can_run_as(uid: int) -> bool:
    if os.geteuid() != 0:
        return False
    try:
        probe = [sys.executable, "-c", "pass"]
        return subprocess.run(probe, user=uid, group=uid, check=False, timeout=60).returncode == 0
    except OSError:  # the interpreter is out of that user's reach
        return False
