"""The operator image's Dockerfile: its entrypoint, and the package installed the way the
image installs it runs from outside the repository (the build replayed without an engine)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.dockerfile import REPO, Instruction, args_of, context_copies, parse


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(REPO / "operator" / "Dockerfile")


def test_the_entrypoint_runs_the_operator_module(instructions: list[Instruction]) -> None:
    assert args_of(instructions, "ENTRYPOINT")[-1] == '["python3", "-m", "asrfleet_operator"]'


def test_installed_package_runs_help(instructions: list[Instruction], tmp_path: Path) -> None:
    # Replay the build: copy exactly what the Dockerfile copies into a fresh context, install
    # the operator package from there (as the image does, without its dependencies, which the
    # dev venv has pinned), then run the entrypoint from outside the repository.
    context = tmp_path / "context"
    for source, _ in context_copies(instructions):
        target = context / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / source, target)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(site), str(context / "operator")],
        check=True,
    )  # fmt: skip
    probe = subprocess.run(
        [sys.executable, "-c", "import asrfleet_operator; print(asrfleet_operator.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(site)), "ran the repo's copy, not the installed one"
    result = subprocess.run(
        [sys.executable, "-m", "asrfleet_operator", "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ASRFLEET_" in result.stdout, "--help should list the operator's settings"
