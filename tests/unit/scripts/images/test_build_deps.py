"""scripts/images/build_deps.py, the inference image's dependency steps: the requirement lines
of the extras a build asks for, torch's pin set to the chosen build, and the slimming of what
pip drops in with torch (on a tree shaped like torch's wheel)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from build_deps import BuildDepsError, constraints, requirements, slim_torch

REPO = Path(__file__).resolve().parents[4]
PYPROJECT = REPO / "inference_image" / "pyproject.toml"
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
SCRIPT = REPO / "scripts" / "images" / "build_deps.py"


def project() -> dict[str, Any]:
    return dict(tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"])


def test_requirements_are_the_pyprojects_lines() -> None:
    deps = project()
    extras = deps["optional-dependencies"]
    assert requirements(PYPROJECT, ["models"], base=True) == deps["dependencies"] + extras["models"]
    assert requirements(PYPROJECT, ["torch"], base=False) == extras["torch"]
    assert requirements(PYPROJECT, [], base=False) == []


def test_an_unknown_extra_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(BuildDepsError, match=r"no extra gpu .*models, torch"):
        requirements(PYPROJECT, ["torch", "gpu"], base=False)


def test_the_cpu_build_keeps_the_pin_ci_tests() -> None:
    text = CONSTRAINTS.read_text(encoding="utf-8")
    assert constraints(text, "cpu") == text
    torch_pins = [line for line in text.splitlines() if line.startswith("torch==")]
    assert torch_pins and all(pin.endswith("+cpu") for pin in torch_pins), torch_pins


def test_a_cuda_build_changes_torchs_local_version_alone() -> None:
    text = "numpy==2.3.5\ntorch==2.13.0+cpu\ntorchaudio==2.9.1\n"
    assert constraints(text, "cu128") == "numpy==2.3.5\ntorch==2.13.0+cu128\ntorchaudio==2.9.1\n"
    assert constraints("torch==2.13.0\n", "cpu") == "torch==2.13.0+cpu\n"


@pytest.mark.parametrize("build", ["", "cuda", "cpu; rm -rf /", "CU128"])
def test_a_bad_torch_build_is_refused(build: str) -> None:
    with pytest.raises(BuildDepsError, match="TORCH_BUILD"):
        constraints("torch==2.13.0+cpu\n", build)


def test_constraints_without_torch_are_refused() -> None:
    with pytest.raises(BuildDepsError, match="pin no torch"):
        constraints("numpy==2.3.5\n", "cpu")


def write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def test_slim_drops_headers_cmake_and_cpp_tests_and_keeps_the_runtime(tmp_path: Path) -> None:
    torch = tmp_path / "torch"
    kept = [torch / "__init__.py", torch / "lib" / "libtorch_cpu.so", torch / "nn" / "mod.py",
            torch / "testing" / "__init__.py", torch / "bin" / "torch_shm_manager"]  # fmt: skip
    dropped = [torch / "include" / "ATen" / "ATen.h", torch / "share" / "cmake" / "Torch.cmake",
               torch / "test" / "Dict_test", torch / "bin" / "protoc",
               torch / "bin" / "test_api"]  # fmt: skip
    for path in kept:
        write(path, 10)
    for path in dropped:
        write(path, 100)
    assert slim_torch(tmp_path) == 100 * len(dropped)
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in dropped)
    assert not (torch / "include").exists() and not (torch / "test").exists()


def test_slim_without_torch_does_nothing(tmp_path: Path) -> None:
    write(tmp_path / "numpy" / "__init__.py", 10)
    assert slim_torch(tmp_path) is None
    assert (tmp_path / "numpy" / "__init__.py").exists()


def test_the_cli_prints_requirements_and_fails_in_one_line(tmp_path: Path) -> None:
    run = [sys.executable, str(SCRIPT)]
    done = subprocess.run([*run, "requirements", "models,torch", "--pyproject", str(PYPROJECT)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "torch==2.13.0" in done.stdout.splitlines()
    bad = subprocess.run([*run, "constraints", "cuda", "--file", str(CONSTRAINTS)],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("build_deps: TORCH_BUILD")
    missing = subprocess.run([*run, "constraints", "cpu", "--file", str(tmp_path / "none")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.startswith("build_deps:")
