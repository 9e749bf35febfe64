"""Both Dockerfiles: the build context holds what they copy, they build on one BASE_IMAGE (slim
by default) with `python3`, pin pip, and run as the non-root user the operator's pod spec
names; the operator's entrypoint works from the package installed the way the image installs
it (replayed by hand, without a container engine). `make image-test` builds and runs both."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from asrfleet_operator.render.containers import RUN_AS_USER
from asrfleet_operator.render.labels import HTTP_PORT

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "operator" / "Dockerfile"
DOCKERFILES = [REPO / "operator" / "Dockerfile", REPO / "inference_image" / "Dockerfile"]


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


def arg_default(instructions: list[Instruction], name: str) -> str:
    found = [i.args.partition("=")[2] for i in instructions
             if i.keyword == "ARG" and i.args.partition("=")[0] == name]  # fmt: skip
    assert found, f"no ARG {name}"
    return found[0]


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE)


@pytest.fixture(scope="module", params=DOCKERFILES, ids=lambda p: p.parent.name)
def dockerfile(request: pytest.FixtureRequest) -> tuple[Path, list[Instruction]]:
    path: Path = request.param
    return path, parse(path)


def test_everything_copied_exists_in_the_build_context(
    dockerfile: tuple[Path, list[Instruction]],
) -> None:
    copies = context_copies(dockerfile[1])
    assert copies, "the Dockerfile copies nothing from the context"
    for source, _ in copies:
        assert (REPO / source).exists(), f"COPY {source}: not in the build context (repo root)"


def test_dockerignore_lets_the_copied_files_through(
    dockerfile: tuple[Path, list[Instruction]],
) -> None:
    path, instructions = dockerfile
    ignore = path.with_name("Dockerfile.dockerignore").read_text(encoding="utf-8")
    allowed = {line[1:].rstrip("/") for line in ignore.splitlines() if line.startswith("!")}
    for source, _ in context_copies(instructions):
        assert source.rstrip("/") in allowed, f"{source} is copied but .dockerignore drops it"


def test_every_stage_builds_on_base_image_slim_by_default(
    dockerfile: tuple[Path, list[Instruction]],
) -> None:
    instructions = dockerfile[1]
    assert "-slim" in arg_default(instructions, "BASE_IMAGE")
    froms = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    # One base for the venv and the final stage: the venv's interpreter path must hold.
    assert froms and set(froms) == {"${BASE_IMAGE}"}, froms


def test_final_stage_runs_as_the_pod_specs_user(
    dockerfile: tuple[Path, list[Instruction]],
) -> None:
    instructions = dockerfile[1]
    last = max(ins.stage for ins in instructions)
    users = [ins.args for ins in instructions if ins.stage == last and ins.keyword == "USER"]
    assert users, "the final stage never switches user (runs as root)"
    # Numeric, so runAsNonRoot can verify it; the same uid the operator renders and the chart
    # sets (podman runs the rendered pod spec's uid in `make image-test`).
    assert users[-1] == f"{RUN_AS_USER}:{RUN_AS_USER}"


def test_python3_and_a_pinned_pip(dockerfile: tuple[Path, list[Instruction]]) -> None:
    instructions = dockerfile[1]
    runs = [i.args for i in instructions if i.keyword in ("RUN", "ENTRYPOINT", "CMD")]
    assert not any(re.search(r"(^|[\s\"])python[\s\"]", r) for r in runs), (
        "a Debian base has no python"
    )
    assert not any("--upgrade pip" in r for r in runs), "pip must be pinned, not upgraded"
    assert any('"pip==${PIP_VERSION}"' in r for r in runs)
    assert re.fullmatch(r"\d+(\.\d+)+", arg_default(instructions, "PIP_VERSION"))


def test_both_images_pin_the_same_pip() -> None:
    assert len({arg_default(parse(p), "PIP_VERSION") for p in DOCKERFILES}) == 1


def test_entrypoints_and_ports(instructions: list[Instruction]) -> None:
    entrypoints = [ins.args for ins in instructions if ins.keyword == "ENTRYPOINT"]
    assert entrypoints[-1] == '["python3", "-m", "asrfleet_operator"]'
    server = parse(REPO / "inference_image" / "Dockerfile")
    assert [i.args for i in server if i.keyword == "EXPOSE"] == [str(HTTP_PORT)]
    assert [i.args for i in server if i.keyword == "ENTRYPOINT"] == ['["asr-server"]']


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


SERVER_DOCKERFILE = REPO / "inference_image" / "Dockerfile"


@pytest.fixture(scope="module")
def server() -> list[Instruction]:
    return parse(SERVER_DOCKERFILE)


def test_the_torch_build_is_opt_in_and_cpu_by_default(server: list[Instruction]) -> None:
    assert arg_default(server, "ENGINE_EXTRAS") == '""'
    assert arg_default(server, "TORCH_BUILD") == "cpu"
    # PyPI's torch is the CUDA build: a production build takes the CPU wheel from PyTorch.
    assert arg_default(server, "TORCH_INDEX_URL") == "https://download.pytorch.org/whl/cpu"


def test_the_torch_layer_comes_after_the_shared_dependency_layer(
    server: list[Instruction],
) -> None:
    # An ARG changes the cache key of every RUN after it: declared after the base dependency
    # layer, the two builds share that layer and the PyTorch build adds one of its own.
    build = [i for i in server if i.stage == 0]
    shared = next(
        n for n, i in enumerate(build) if i.keyword == "RUN" and "--base models" in i.args
    )
    for name in ("ENGINE_EXTRAS", "TORCH_BUILD", "TORCH_INDEX_URL"):
        declared = next(n for n, i in enumerate(build)
                        if i.keyword == "ARG" and i.args.startswith(f"{name}="))  # fmt: skip
        assert declared > shared, f"ARG {name} before the shared dependency layer"
    torch_run = next(i.args for i in build if i.keyword == "RUN" and "ENGINE_EXTRAS" in i.args)
    assert "-c /tmp/constraints.txt" in torch_run and "build_deps.py slim" in torch_run


def test_the_machines_pip_sources_stay_in_the_build_stage(server: list[Instruction]) -> None:
    final = max(i.stage for i in server)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "TORCH_INDEX_URL"):
        stages = {i.stage for i in server if i.keyword == "ARG" and i.args.startswith(name)}
        assert stages == {0}, f"ARG {name} in stages {stages}"
        assert not any(name in i.args for i in server if i.stage == final)
