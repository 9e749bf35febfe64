"""scripts/images/podman_config.py: the private podman configuration holds the settings this
VM needs, keeps every path podman writes under the work dir, and podman reads it."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from podman_config import write_config


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return tmp_path / "podman", write_config(tmp_path / "podman")


def load(path: str) -> dict[str, Any]:
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def test_the_environment_selects_both_files(written: tuple[Path, dict[str, str]]) -> None:
    work, env = written
    assert set(env) == {"CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF"}
    assert Path(env["CONTAINERS_CONF"]).parent == work.resolve()
    assert Path(env["CONTAINERS_STORAGE_CONF"]).parent == work.resolve()


def test_engine_settings_for_this_kind_of_vm(written: tuple[Path, dict[str, str]]) -> None:
    conf = load(written[1]["CONTAINERS_CONF"])
    assert conf["engine"]["runtime"] == "runc"  # crun 1.8 refuses hybrid cgroups
    assert conf["engine"]["cgroup_manager"] == "cgroupfs"
    assert conf["engine"]["events_logger"] == "file"
    assert conf["containers"]["default_ulimits"] == ["nofile=20000:20000", "nproc=32768:32768"]


def test_ulimits_fit_under_this_machines_hard_limits(written: tuple[Path, dict[str, str]]) -> None:
    # podman's defaults made setrlimit fail here; the configured ones must not.
    limits = {"nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC}
    for item in load(written[1]["CONTAINERS_CONF"])["containers"]["default_ulimits"]:
        name, _, values = item.partition("=")
        hard = resource.getrlimit(limits[name])[1]
        assert hard == resource.RLIM_INFINITY or int(values.split(":")[1]) <= hard, item


def test_every_path_podman_writes_is_under_the_work_dir(
    written: tuple[Path, dict[str, str]],
) -> None:
    work, env = written
    conf, storage = load(env["CONTAINERS_CONF"]), load(env["CONTAINERS_STORAGE_CONF"])
    paths = [
        storage["storage"]["graphroot"],
        storage["storage"]["runroot"],
        conf["network"]["network_config_dir"],
        *(conf["engine"][key] for key in ("tmp_dir", "static_dir", "volume_path",
                                          "image_copy_tmp_dir", "events_logfile_path")),
    ]  # fmt: skip
    for path in paths:
        assert Path(path).is_relative_to(work.resolve()), path
    assert storage["storage"]["driver"] == "overlay"


def test_writing_twice_gives_the_same_files(tmp_path: Path) -> None:
    first = write_config(tmp_path)
    texts = [Path(p).read_text() for p in first.values()]
    assert write_config(tmp_path) == first
    assert [Path(p).read_text() for p in first.values()] == texts


@pytest.mark.skipif(
    shutil.which("podman") is None or os.geteuid() != 0, reason="needs rootful podman"
)
def test_podman_reads_it(written: tuple[Path, dict[str, str]]) -> None:
    work, env = written
    done = subprocess.run(
        ["podman", "info", "--format", "json"], env={**os.environ, **env},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    info = json.loads(done.stdout)
    assert info["host"]["ociRuntime"]["name"] == "runc"
    assert info["host"]["cgroupManager"] == "cgroupfs"
    assert info["store"]["graphRoot"] == str(work.resolve() / "storage")
