"""The inference image's Dockerfile, checked without a container engine: what it copies exists
and survives its .dockerignore, it runs as a non-root user, and the commands it runs are ones
the installed package accepts."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from asr_server.__main__ import build_parser

Instruction = tuple[str, str]


@pytest.fixture(scope="module")
def dockerfile(repo_root: Path) -> list[Instruction]:
    text = (repo_root / "inference_image" / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path (or a parent dir) decides."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes):
            ignored = not negate
    return ignored


def test_base_image_is_a_build_arg(dockerfile: list[Instruction]) -> None:
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in dockerfile
    froms = [rest for kw, rest in dockerfile if kw == "FROM"]
    assert froms and all(rest.startswith("${BASE_IMAGE}") for rest in froms)


def test_every_copy_source_exists_in_the_build_context(
    dockerfile: list[Instruction], repo_root: Path
) -> None:
    ignore_file = repo_root / "inference_image" / "Dockerfile.dockerignore"
    patterns = [
        line.strip()
        for line in ignore_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [rest.split() for kw, rest in dockerfile if kw == "COPY"]
    local = [args[:-1] for args in copies if not args[0].startswith("--from")]
    assert local, "the Dockerfile copies nothing from the context"
    for sources in local:
        for source in sources:
            assert (repo_root / source).exists(), f"COPY {source}: not in the build context"
            assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    assert _ignored("tests/conftest.py", patterns) and _ignored(".venv/bin/python", patterns)


def test_runs_as_a_fixed_non_root_user(dockerfile: list[Instruction]) -> None:
    users = [rest for kw, rest in dockerfile if kw == "USER"]
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) == 10001  # numeric, so runAsNonRoot can verify it


def test_entrypoint_serves_on_8080(dockerfile: list[Instruction]) -> None:
    assert ("ENTRYPOINT", '["asr-server"]') in dockerfile
    assert ("CMD", '["serve"]') in dockerfile
    assert ("EXPOSE", "8080") in dockerfile


def test_installs_the_models_extra_with_the_ci_pins(
    dockerfile: list[Instruction], repo_root: Path
) -> None:
    runs = " ".join(rest for kw, rest in dockerfile if kw == "RUN")
    # The dependencies get their own layer: the build lists them from pyproject.toml with the
    # script it copies in (run that command here, on the script in the repository), installs
    # them with the CI pins, then the package without deps.
    listing = next(part for part in runs.split("&&") if "requirements --base" in part)
    command, _, target = listing.partition(">")
    argv = shlex.split(command)
    assert argv[0] == "python3" and target.strip() == "/tmp/requirements.txt"
    copied = {
        args[-1]: args[0] for kw, rest in dockerfile if kw == "COPY" for args in [rest.split()]
    }
    script = repo_root / copied[argv[1]]
    listed = subprocess.run(
        [sys.executable, str(script), *argv[2:]],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    project = tomllib.loads((repo_root / "inference_image" / "pyproject.toml").read_text())
    deps = (
        project["project"]["dependencies"] + project["project"]["optional-dependencies"]["models"]
    )
    assert listed == [d.replace(" ", "") for d in deps] and listed
    assert "-c requirements/constraints.txt -r /tmp/requirements.txt" in runs
    assert "--no-deps ./inference_image" in runs and "pip check" in runs
    assert project["project"]["scripts"]["asr-server"] == "asr_server.__main__:main"


def test_the_build_time_model_preparation_is_a_valid_command(
    dockerfile: list[Instruction],
) -> None:
    runs = [rest for kw, rest in dockerfile if kw == "RUN" and "asr-server models" in rest]
    assert len(runs) == 2  # every build joins whisper-base; the PyTorch one also converts
    joined = build_parser().parse_args(shlex.split(runs[0].split("&&")[0])[1:])
    assert joined.prepare == ["whisper-base"] and joined.engine == "faster-whisper"
    torch_case = runs[1].split(")", 1)[1].split(";;")[0]
    assert "*torch*" in runs[1] and "ENGINE_EXTRAS" in runs[1]
    command = shlex.split(torch_case)
    assert Path(command[0]).name == "asr-server"
    converted = build_parser().parse_args(command[1:])
    assert converted.prepare == ["whisper-tiny.en", "whisper-base"]
    assert converted.engine == "torch"
    env = dict(
        item.split("=", 1) for kw, rest in dockerfile if kw == "ENV" for item in shlex.split(rest)
    )
    for args in (joined, converted):
        assert str(args.model_dir) == env["ASR_MODEL_DIR"] == env["ASR_BUNDLED_MODEL_DIR"]


def test_healthcheck_is_exec_form_python(dockerfile: list[Instruction]) -> None:
    check = next(rest for kw, rest in dockerfile if kw == "HEALTHCHECK")
    exec_form = json.loads(check[check.index("CMD") + 3 :])
    assert exec_form[0] == "python3" and "/healthz" in exec_form[-1]


def test_the_entrypoint_runs_from_the_installed_package() -> None:
    script = Path(sys.executable).with_name("asr-server")
    assert script.exists(), "asr-server console script missing: is the package installed?"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("serve", "transcribe", "models", "fetch-model"):
        assert command in done.stdout
