"""The Makefile: `make help` lists every documented target in its group, one version tags the
images (named as the operator's defaults name them), `make images` builds with docker or podman
(with the flags podman needs), and without either says so and fails instead of half-working."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRED = ["venv", "test", "lint", "demo", "bench", "images", "image-test", "image-clean",
            "helm-lint", "install", "e2e", "docs", "reference", "contract", "sync-crds",
            "constraints", "clean", "help"]  # fmt: skip

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
    assert {"Setup", "Quality", "Run", "Kubernetes", "Images", "Maintenance"} <= set(groups)


def builds(*args: str) -> list[str]:
    result = make("-n", "images", *args)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if " build " in line]


def tag(line: str) -> str:
    return line.split(" -t ")[1].split()[0]


def test_the_images_are_tagged_from_one_version() -> None:
    lines = builds("IMAGE_ENGINE=docker", "VERSION=9.8.7")
    assert len(lines) == 3 and all(line.startswith("docker build") for line in lines)
    assert [tag(line).rpartition(":")[2] for line in lines] == ["9.8.7", "9.8.7-torch", "9.8.7"]
    assert any("-f operator/Dockerfile" in b for b in lines)
    assert any("-f inference_image/Dockerfile" in b for b in lines)
    assert not any("--ignorefile" in b for b in lines)  # BuildKit finds it by itself


def test_the_tags_are_the_operators_default_images() -> None:
    from asrfleet_operator.settings import Settings

    settings = Settings()
    server, torch, _ = builds("IMAGE_ENGINE=docker")
    assert [tag(server), tag(torch)] == [settings.inference_image, settings.torch_inference_image]
    assert "--build-arg ENGINE_EXTRAS=torch" in torch
    assert "ENGINE_EXTRAS" not in server
    # PyTorch's CPU index by default (PyPI's torch is the CUDA build); overridable.
    assert "--build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in torch
    _, local, _ = builds("IMAGE_ENGINE=docker", "TORCH_INDEX_URL=")
    assert "--build-arg TORCH_INDEX_URL= " in local


def test_podman_gets_the_ignore_file_and_docker_format() -> None:
    lines = builds("IMAGE_ENGINE=podman", "BASE_IMAGE=localhost/base:1")
    assert len(lines) == 3 and all(line.startswith("podman build") for line in lines)
    for line in lines:
        dockerfile = line.split(" -f ")[1].split()[0]
        assert f"--ignorefile {dockerfile}.dockerignore" in line
        assert "--format docker" in line  # OCI would drop HEALTHCHECK
        assert "--build-arg BASE_IMAGE=localhost/base:1" in line


def test_images_without_docker_or_podman_fails_with_a_clear_message(tmp_path: Path) -> None:
    # A PATH with make and what the Makefile's $(shell) needs, but no container engine.
    for tool in ("make", "sed"):
        found = shutil.which(tool)
        assert found is not None
        (tmp_path / tool).symlink_to(found)
    result = make("images", path=str(tmp_path))
    assert result.returncode != 0
    assert "neither docker (with a running daemon) nor podman" in result.stderr
