"""The Makefile: `make help` lists every documented target in its group, one version tags both
images, and `make images` without docker says so and fails instead of half-working."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRED = ["venv", "test", "lint", "demo", "bench", "images", "helm-lint", "install", "e2e",
            "docs", "reference", "contract", "sync-crds", "constraints", "clean",
            "help"]  # fmt: skip

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path} if path else None
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_help_lists_every_target_grouped() -> None:
    result = make("help")
    assert result.returncode == 0, result.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    listed = set(re.findall(r"^  ([a-z0-9-]+)\s+\S", text, flags=re.MULTILINE))
    assert set(REQUIRED) <= listed, f"missing from make help: {set(REQUIRED) - listed}"
    groups = re.findall(r"^(\S.*)$", text, flags=re.MULTILINE)
    assert {"Setup", "Quality", "Run", "Kubernetes", "Maintenance"} <= set(groups)


def test_both_images_are_tagged_from_one_version() -> None:
    result = make("-n", "images", "VERSION=9.8.7")
    builds = [line for line in result.stdout.splitlines() if line.startswith("docker build")]
    assert len(builds) == 2
    assert all(line.split(" -t ")[1].split()[0].endswith(":9.8.7") for line in builds)
    assert any("-f operator/Dockerfile" in b for b in builds)
    assert any("-f inference_image/Dockerfile" in b for b in builds)


def test_images_without_docker_fails_with_a_clear_message() -> None:
    # /usr/bin and /bin hold make, sh and sed but no docker on these machines.
    path = "/usr/bin:/bin"
    if shutil.which("docker", path=path):
        pytest.skip("docker is installed in /usr/bin here")
    result = make("images", path=path)
    assert result.returncode != 0
    assert "docker is not installed" in result.stderr
