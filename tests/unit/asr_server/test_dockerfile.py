"""The inference image's Dockerfile, checked without a container engine: it serves on 8080,
installs the package's dependencies with the CI pins, prepares its models at build time with
commands the installed package accepts, keeps the PyTorch build opt-in and in a layer of its
own, and keeps the build machine's pip sources out of the image. What both images share is
checked in tests/unit/test_dockerfiles.py."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from asr_server.__main__ import build_parser
from asrfleet_operator.render.labels import HTTP_PORT
from support.dockerfile import INFERENCE_DOCKERFILE, Instruction, arg_default, args_of, parse


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse(INFERENCE_DOCKERFILE)


def test_entrypoint_serves_on_the_port_the_operator_renders(
    dockerfile: list[Instruction],
) -> None:
    assert args_of(dockerfile, "ENTRYPOINT") == ['["asr-server"]']
    assert args_of(dockerfile, "CMD") == ['["serve"]']
    assert args_of(dockerfile, "EXPOSE") == [str(HTTP_PORT)]


def test_installs_the_models_extra_with_the_ci_pins(
    dockerfile: list[Instruction], repo_root: Path
) -> None:
    runs = " ".join(args_of(dockerfile, "RUN"))
    # The dependencies get their own layer: the build lists them from pyproject.toml with the
    # script it copies in (run that command here, on the script in the repository), installs
    # them with the CI pins, then the package without deps.
    listing = next(part for part in runs.split("&&") if "requirements --base" in part)
    command, _, target = listing.partition(">")
    argv = shlex.split(command)
    assert argv[0] == "python3" and target.strip() == "/tmp/requirements.txt"
    copied = {args[-1]: args[0] for rest in args_of(dockerfile, "COPY") for args in [rest.split()]}
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
    runs = [rest for rest in args_of(dockerfile, "RUN") if "asr-server models" in rest]
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
        item.split("=", 1) for rest in args_of(dockerfile, "ENV") for item in shlex.split(rest)
    )
    for args in (joined, converted):
        assert str(args.model_dir) == env["ASR_MODEL_DIR"] == env["ASR_BUNDLED_MODEL_DIR"]


def test_healthcheck_is_exec_form_python(dockerfile: list[Instruction]) -> None:
    check = args_of(dockerfile, "HEALTHCHECK")[0]
    exec_form = json.loads(check[check.index("CMD") + 3 :])
    assert exec_form[0] == "python3" and "/healthz" in exec_form[-1]


def test_the_entrypoint_runs_from_the_installed_package() -> None:
    script = Path(sys.executable).with_name("asr-server")
    assert script.exists(), "asr-server console script missing: is the package installed?"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("serve", "transcribe", "models", "fetch-model"):
        assert command in done.stdout


def test_the_torch_build_is_opt_in_and_cpu_by_default(dockerfile: list[Instruction]) -> None:
    assert arg_default(dockerfile, "ENGINE_EXTRAS") == '""'
    assert arg_default(dockerfile, "TORCH_BUILD") == "cpu"
    # PyPI's torch is the CUDA build: a production build takes the CPU wheel from PyTorch.
    assert arg_default(dockerfile, "TORCH_INDEX_URL") == "https://download.pytorch.org/whl/cpu"


def test_the_torch_layer_comes_after_the_shared_dependency_layer(
    dockerfile: list[Instruction],
) -> None:
    # An ARG changes the cache key of every RUN after it: declared after the base dependency
    # layer, the two builds share that layer and the PyTorch build adds one of its own.
    build = [i for i in dockerfile if i.stage == 0]
    shared = next(
        n for n, i in enumerate(build) if i.keyword == "RUN" and "--base models" in i.args
    )
    for name in ("ENGINE_EXTRAS", "TORCH_BUILD", "TORCH_INDEX_URL"):
        declared = next(n for n, i in enumerate(build)
                        if i.keyword == "ARG" and i.args.startswith(f"{name}="))  # fmt: skip
        assert declared > shared, f"ARG {name} before the shared dependency layer"
    torch_run = next(i.args for i in build if i.keyword == "RUN" and "ENGINE_EXTRAS" in i.args)
    assert "-c /tmp/constraints.txt" in torch_run and "build_deps.py slim" in torch_run


def test_the_machines_pip_sources_stay_in_the_build_stage(dockerfile: list[Instruction]) -> None:
    final = max(i.stage for i in dockerfile)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "TORCH_INDEX_URL"):
        stages = {i.stage for i in dockerfile if i.keyword == "ARG" and i.args.startswith(name)}
        assert stages == {0}, f"ARG {name} in stages {stages}"
        assert not any(name in i.args for i in dockerfile if i.stage == final)
