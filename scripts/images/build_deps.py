"""The inference image's dependency steps, run inside its build stage (inference_image/Dockerfile)
with the base image's plain `python3`, so it imports nothing but the standard library.

- `requirements EXTRAS...`: the requirement lines of inference_image/pyproject.toml's
  dependencies (with `--base`) and of the named optional-dependency groups, one a line, for
  `pip install -r`. An extra the pyproject does not define is an error, not an empty layer.
- `constraints TORCH_BUILD`: requirements/constraints.txt with torch's pin set to that build
  (its local version label): `cpu` keeps the pin CI tests (`torch==2.13.0+cpu`); `cu128` etc.
  name one of PyTorch's CUDA builds for a GPU image.
- `slim [SITE_PACKAGES]`: delete what pip installs with torch that a server never runs: the
  C++ headers and CMake files (building extensions), the C++ test binaries and bin/'s tools
  except torch_shm_manager (torch.multiprocessing's file-system sharing starts it). Default:
  the running interpreter's site-packages (run it with the venv's python); no torch there:
  nothing to do.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import sysconfig
import tomllib
from collections.abc import Sequence
from pathlib import Path

TORCH_PIN = re.compile(r"^torch==(?P<version>[^+\s#]+)(\+\S+)?\s*$")
TORCH_BUILD = re.compile(r"^(cpu|cu\d+|rocm[\d.]+|xpu)$")
TORCH_UNUSED = ("include", "share", "test")
"""Directories of the torch package a CPU/GPU server never reads (headers, CMake, C++ tests)."""
TORCH_TOOLS_KEPT = frozenset({"torch_shm_manager"})
"""torch/bin/ entries kept: the rest are C++ test programs and protoc."""


class BuildDepsError(ValueError):
    """A bad argument or input file: a one-line message, exit 2."""


def requirements(pyproject: Path, extras: Sequence[str], *, base: bool) -> list[str]:
    """The requirement lines of the base dependencies (`base`) and of `extras`."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    groups: dict[str, list[str]] = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in groups]
    if unknown:
        raise BuildDepsError(
            f"{pyproject} defines no extra {', '.join(unknown)} (it has {', '.join(groups)})"
        )
    lines = list(project["dependencies"]) if base else []
    for extra in extras:
        lines += groups[extra]
    return lines


def constraints(text: str, torch_build: str) -> str:
    """`text` (a constraints file) with torch pinned to the `torch_build` of its version."""
    if not TORCH_BUILD.match(torch_build):
        raise BuildDepsError(f"TORCH_BUILD must be cpu, cuNNN, rocmN.N or xpu; got {torch_build!r}")
    out, found = [], False
    for line in text.splitlines():
        pin = TORCH_PIN.match(line)
        if pin:
            found = True
            line = f"torch=={pin['version']}+{torch_build}"
        out.append(line)
    if not found:
        raise BuildDepsError("the constraints pin no torch==VERSION")
    return "\n".join(out) + "\n"


def slim_torch(site_packages: Path) -> int | None:
    """Delete torch's build-time and test files under `site_packages`; the bytes freed
    (None: no torch there)."""
    torch = site_packages / "torch"
    if not (torch / "__init__.py").is_file():
        return None
    doomed = [torch / name for name in TORCH_UNUSED if (torch / name).exists()]
    if (torch / "bin").is_dir():
        doomed += [p for p in (torch / "bin").iterdir() if p.name not in TORCH_TOOLS_KEPT]
    freed = 0
    for path in doomed:
        if path.is_dir() and not path.is_symlink():
            freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            shutil.rmtree(path)
        else:
            freed += path.lstat().st_size
            path.unlink()
    return freed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    req = commands.add_parser("requirements", help="requirement lines of extras")
    req.add_argument("extras", nargs="*", help="optional-dependency groups")
    req.add_argument("--base", action="store_true", help="the base dependencies too")
    req.add_argument("--pyproject", type=Path, default=Path("inference_image/pyproject.toml"))
    con = commands.add_parser("constraints", help="the constraints with torch's build set")
    con.add_argument("torch_build", help="cpu, cu128, ...: torch's local version label")
    con.add_argument("--file", type=Path, default=Path("requirements/constraints.txt"))
    slim = commands.add_parser("slim", help="drop torch's headers, CMake files and C++ tests")
    slim.add_argument("site_packages", type=Path, nargs="?",
                      default=Path(sysconfig.get_paths()["purelib"]))  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.command == "requirements":
            # "models,torch" as one word too, as a build arg carries it.
            extras = [e for word in args.extras for e in word.split(",") if e]
            print("\n".join(requirements(args.pyproject, extras, base=args.base)))
        elif args.command == "constraints":
            sys.stdout.write(constraints(args.file.read_text(encoding="utf-8"), args.torch_build))
        else:
            freed = slim_torch(args.site_packages)
            if freed is None:
                print(f"slim: no torch in {args.site_packages}: nothing to remove")
            else:
                print(f"slim: removed {freed / 1e6:.0f} MB of torch's headers, CMake files"
                      f" and C++ tests from {args.site_packages}")  # fmt: skip
    except (BuildDepsError, OSError) as exc:
        print(f"build_deps: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
