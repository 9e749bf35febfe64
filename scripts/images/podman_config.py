"""A private podman configuration for `make image-test`: written under a git-ignored work dir
and selected with CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, so nothing in /etc changes and
the images, layers and runtime state of this repository stay out of the machine's own podman.

The settings are the ones this kind of VM needs (found trying it, see issue 12): runc, because
crun 1.8 refuses hybrid cgroups; ulimits within the VM's hard limits (podman's defaults make
setrlimit fail); cgroupfs and a file events log, since there is no systemd to talk to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# <name>=<soft>:<hard>; the hard limits here are nofile 20000 and nproc ~96000.
DEFAULT_ULIMITS = ("nofile=20000:20000", "nproc=32768:32768")
RUNTIME = "runc"
CGROUP_MANAGER = "cgroupfs"
EVENTS_LOGGER = "file"
STORAGE_DRIVER = "overlay"


@dataclass(frozen=True)
class PodmanPaths:
    """Where the private podman keeps everything, all under one work dir."""

    work: Path

    @property
    def containers_conf(self) -> Path:
        return self.work / "containers.conf"

    @property
    def storage_conf(self) -> Path:
        return self.work / "storage.conf"

    @property
    def graphroot(self) -> Path:
        """Images and layers."""
        return self.work / "storage"

    @property
    def runroot(self) -> Path:
        """Storage's runtime state (mount counts, locks)."""
        return self.work / "run"

    @property
    def tmp(self) -> Path:
        """libpod's runtime state, the events log and temporary copies of images."""
        return self.work / "tmp"

    @property
    def networks(self) -> Path:
        return self.work / "networks"


def _toml(value: str | tuple[str, ...]) -> str:
    # JSON strings and arrays of strings are valid TOML basic strings and arrays.
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def containers_conf(paths: PodmanPaths) -> str:
    """containers.conf text: the VM-specific engine settings and every state dir under work."""
    return "\n".join(
        [
            "# Written by scripts/images/podman_config.py for `make image-test`; do not edit.",
            "[containers]",
            f"default_ulimits = {_toml(DEFAULT_ULIMITS)}",
            "",
            "[network]",
            f"network_config_dir = {_toml(str(paths.networks))}",
            "",
            "[engine]",
            f"runtime = {_toml(RUNTIME)}",
            f"cgroup_manager = {_toml(CGROUP_MANAGER)}",
            f"events_logger = {_toml(EVENTS_LOGGER)}",
            f"events_logfile_path = {_toml(str(paths.tmp / 'events.log'))}",
            f"tmp_dir = {_toml(str(paths.tmp / 'libpod'))}",
            f"static_dir = {_toml(str(paths.graphroot / 'libpod'))}",
            f"volume_path = {_toml(str(paths.graphroot / 'volumes'))}",
            f"image_copy_tmp_dir = {_toml(str(paths.tmp))}",
            "",
        ]
    )


def storage_conf(paths: PodmanPaths) -> str:
    """storage.conf text: overlay layers in the work dir."""
    return "\n".join(
        [
            "# Written by scripts/images/podman_config.py for `make image-test`; do not edit.",
            "[storage]",
            f"driver = {_toml(STORAGE_DRIVER)}",
            f"graphroot = {_toml(str(paths.graphroot))}",
            f"runroot = {_toml(str(paths.runroot))}",
            "",
        ]
    )


def write_config(work: Path) -> dict[str, str]:
    """Write both files (and the dirs they name) under `work`; the environment selecting them."""
    paths = PodmanPaths(work.resolve())
    for directory in (paths.graphroot, paths.runroot, paths.tmp, paths.networks):
        directory.mkdir(parents=True, exist_ok=True)
    paths.containers_conf.write_text(containers_conf(paths), encoding="utf-8")
    paths.storage_conf.write_text(storage_conf(paths), encoding="utf-8")
    return {
        "CONTAINERS_CONF": str(paths.containers_conf),
        "CONTAINERS_STORAGE_CONF": str(paths.storage_conf),
    }
