"""operator/Dockerfile: its build context holds what it copies, it runs as a non-root user
from a slim base, and its entrypoint works from the package installed the way the image
installs it (no container engine here, so the build steps are replayed by hand)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "operator" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str


def parse(path: Path) -> list[Instruction]:
    """Instructions with line continuations joined, tagged with their build stage (0-based)."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    out: list[Instruction] = []
    stage = -1
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(stage, keyword, args.strip()))
    return out


def context_copies(instructions: list[Instruction]) -> list[tuple[str, str]]:
    """(source, destination) of every COPY/ADD from the build context (not --from a stage)."""
    pairs: list[tuple[str, str]] = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = [w for w in shlex.split(ins.args)]
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        pairs.extend((src, words[-1]) for src in words[:-1])
    return pairs


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE)


def test_everything_copied_exists_in_the_build_context(instructions: list[Instruction]) -> None:
    copies = context_copies(instructions)
    assert copies, "the Dockerfile copies nothing from the context"
    for source, _ in copies:
        assert (REPO / source).exists(), f"COPY {source}: not in the build context (repo root)"


def test_dockerignore_lets_the_copied_files_through(instructions: list[Instruction]) -> None:
    ignore = (REPO / "operator" / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    allowed = {line[1:].rstrip("/") for line in ignore.splitlines() if line.startswith("!")}
    for source, _ in context_copies(instructions):
        assert source.rstrip("/") in allowed, f"{source} is copied but .dockerignore drops it"


def test_final_stage_is_slim_and_runs_as_non_root(instructions: list[Instruction]) -> None:
    last = max(ins.stage for ins in instructions)
    final = [ins for ins in instructions if ins.stage == last]
    assert "-slim" in final[0].args, f"final base image is not slim: {final[0].args}"
    users = [ins.args for ins in final if ins.keyword == "USER"]
    assert users, "the final stage never switches user (runs as root)"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root UID for runAsNonRoot"


def test_entrypoint_is_the_operator_module(instructions: list[Instruction]) -> None:
    entrypoints = [ins.args for ins in instructions if ins.keyword == "ENTRYPOINT"]
    assert entrypoints[-1] == '["python", "-m", "asrfleet_operator"]'


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
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(context / "operator"),
        ],
        check=True,
    )
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
