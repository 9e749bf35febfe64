"""Reading a Dockerfile and its .dockerignore without a container engine: instructions with
their build stage, what is copied from the context, ARG defaults, and Docker's ignore rule."""

from __future__ import annotations

import fnmatch
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INFERENCE_DOCKERFILE = REPO / "inference_image" / "Dockerfile"
OPERATOR_DOCKERFILE = REPO / "operator" / "Dockerfile"
DOCKERFILES = (OPERATOR_DOCKERFILE, INFERENCE_DOCKERFILE)
"""Both images are built from the repository root."""


@dataclass(frozen=True)
class Instruction:
    stage: int
    """Build stage, 0-based (each FROM starts one)."""
    keyword: str
    args: str


def parse(path: Path) -> list[Instruction]:
    """Instructions with line continuations joined, tagged with their build stage."""
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


def args_of(instructions: list[Instruction], keyword: str) -> list[str]:
    return [i.args for i in instructions if i.keyword == keyword]


def context_copies(instructions: list[Instruction]) -> list[tuple[str, str]]:
    """(source, destination) of every COPY/ADD from the build context (not --from a stage)."""
    pairs: list[tuple[str, str]] = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(ins.args)
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


def ignore_patterns(dockerfile: Path) -> list[str]:
    """The patterns of the `<Dockerfile>.dockerignore` BuildKit reads beside it."""
    text = dockerfile.with_name(f"{dockerfile.name}.dockerignore").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("#")]  # fmt: skip


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path (or a parent dir) decides."""
    result = False
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes):
            result = not negate
    return result
