"""What both Dockerfiles share: the build context holds what they copy and their .dockerignore
lets it through (and nothing else of the repository), they build on one BASE_IMAGE (slim by
default) with `python3`, pin pip alike, and run as the non-root user the operator's pod spec
names. Each image's own checks are beside its package's tests (asr_server/,
asrfleet_operator/); `make image-test` builds and runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asrfleet_operator.render.containers import RUN_AS_USER
from support.dockerfile import (
    DOCKERFILES,
    REPO,
    Instruction,
    arg_default,
    context_copies,
    ignore_patterns,
    ignored,
    parse,
)


@pytest.fixture(scope="module", params=DOCKERFILES, ids=lambda p: p.parent.name)
def dockerfile(request: pytest.FixtureRequest) -> tuple[Path, list[Instruction]]:
    path: Path = request.param
    return path, parse(path)


def test_everything_copied_exists_and_survives_the_dockerignore(
    dockerfile: tuple[Path, list[Instruction]],
) -> None:
    path, instructions = dockerfile
    patterns = ignore_patterns(path)
    copies = context_copies(instructions)
    assert copies, "the Dockerfile copies nothing from the context"
    for source, _ in copies:
        assert (REPO / source).exists(), f"COPY {source}: not in the build context (repo root)"
        assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    for private in ("tests/conftest.py", ".venv/bin/python", ".git/HEAD", "bench/accuracy.py"):
        assert ignored(private, patterns), f"{private} would be sent to the build"


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
