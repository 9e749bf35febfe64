"""`make image-test`: build the images here from nothing with podman and smoke-test them.

No registry is reachable and no base image can be pulled, so a Debian base is made with
debootstrap from the mirror apt uses, both Dockerfiles are built on it with rootful podman under
a private configuration (.podman/, see podman_config.py) — the inference image twice, its
default build and its PyTorch build (ENGINE_EXTRAS=torch), the latter with this machine's pip
sources (pip_sources.py) since torch's CPU build lies on this machine, not on PyPI — and then
each image is run exactly as its Kubernetes manifest runs it (see smoke.py). The images are
saved as docker-archive tars in .images/ (`docker load`, `podman load`, `kind load
image-archive`, `ctr images import`); sizes and build times are printed and an image over its
budget fails the run. Where podman cannot run,
it says so and exits 1. Every container and process it started is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (REPO / "scripts", REPO / "tests"):  # demo's plumbing, the transcript metrics
    if str(path) not in sys.path:
        sys.path.insert(1, str(path))

from debian_base import NoDebianMirror, build_base  # noqa: E402
from demo_support import Children, StepFailed, Steps  # noqa: E402
from pip_sources import PipSources, machine_pip_sources  # noqa: E402
from podman_cli import CA_BUNDLE, Podman, PodmanFailed  # noqa: E402
from podman_config import RUNTIME, write_config  # noqa: E402
from podman_run import UnsupportedPodSpec  # noqa: E402
from smoke import (  # noqa: E402
    Containers,
    reference,
    smoke_english,
    smoke_mandarin,
    smoke_speech_model,
    smoke_torch,
    start_operator,
    stop_operator,
)

BASE_IMAGE = "localhost/asrfleet-base:bookworm"
EXAMPLE = REPO / "examples" / "cpu-english.yaml"
CHART = REPO / "charts" / "asrfleet"
MB = 1_000_000  # podman counts sizes in decimal megabytes


@dataclass(frozen=True)
class ImageSpec:
    """One image this target builds and the size it must stay under (README: the budget)."""

    key: str
    dockerfile: str
    archive: str
    budget_mb: int
    build_args: tuple[tuple[str, str], ...] = ()
    machine_sources: bool = False
    """pip in the build sees this machine's find-links and indexes (PipSources)."""


# Measured on 2026-12-01: server 964 MB (base 199, venv 608 with boto3 and huggingface_hub,
# models 142), operator 332 MB (base 199, venv 137); the PyTorch build 2094 MB (the server's
# plus torch 577 MB once slimmed of 177 MB of headers and C++ tests, sympy 80, networkx 19,
# and both catalogue models converted into the torch engine's float32 checkpoints, 441 MB).
# The budgets leave 4-5 % for dependency updates; going over them is a decision to make, not
# drift.
IMAGES = (
    ImageSpec("server", "inference_image/Dockerfile", "asr-server.tar", 1000,
              machine_sources=True),
    # TORCH_INDEX_URL empty: torch's CPU build from the machine's sources, not PyTorch's index.
    ImageSpec("server-torch", "inference_image/Dockerfile", "asr-server-torch.tar", 2200,
              (("ENGINE_EXTRAS", "torch"), ("TORCH_INDEX_URL", "")), machine_sources=True),
    ImageSpec("operator", "operator/Dockerfile", "operator.tar", 350),
)  # fmt: skip
REQUIRED_TOOLS = ("podman", "runc", "debootstrap", "kubectl")


def cannot_run_here() -> str | None:
    """Why podman cannot build and run the images on this machine, or None."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"{', '.join(missing)} not installed here; it needs rootful podman with runc and"
            " debootstrap (Debian: apt-get install podman buildah runc debootstrap) and kubectl"
        )
    if os.geteuid() != 0:
        return "it needs root (rootful podman; debootstrap writes a root filesystem)"
    if not CA_BUNDLE.is_file():
        return f"the system CA bundle {CA_BUNDLE} is missing (pip in the build verifies with it)"
    return None


@dataclass
class Built:
    spec: ImageSpec
    tag: str
    seconds: float
    size: int

    @property
    def over_budget(self) -> bool:
        return self.size > self.spec.budget_mb * MB


def check_podman(podman: Podman) -> None:
    runtime = podman.run("info", "--format", "{{.Host.OCIRuntime.Name}}").strip()
    if runtime != RUNTIME:
        raise StepFailed(f"podman uses {runtime}, not {RUNTIME}: is CONTAINERS_CONF ignored?")
    print(f"    podman {podman.run('version', '--format', '{{.Client.Version}}').strip()},"
          f" OCI runtime {runtime}")  # fmt: skip


def archive_tags(archive: Path) -> list[str]:
    """The image names a docker-archive tar loads as (its manifest.json's RepoTags)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise StepFailed(f"{archive} has no manifest.json: not a docker-archive")
        return [tag for image in json.load(member) for tag in image.get("RepoTags") or []]


def check_no_pip_sources(podman: Podman, tags: list[str], sources: PipSources) -> None:
    """The machine's pip sources were build-stage only: none of their paths exists in the
    images, and neither the images' configuration and history nor the venv's metadata names
    them."""
    paths = [str(path) for path in sources.mounts()]
    needles = paths + [s for s in (*sources.find_links, *sources.extra_index_urls) if s]
    if not needles:
        print("    this machine's pip has no find-links or extra index: nothing to leak")
        return
    for tag in tags:
        found = podman.run("run", "--rm", "--pull=never", "--health-cmd", "none", "--network",
                           "none", "--entrypoint", "python3", tag, "-c", LEAK_PROBE,
                           *needles)  # fmt: skip
        if found.strip():
            raise StepFailed(f"{tag} holds this machine's pip sources: {found.strip()}")
        metadata = podman.run("image", "inspect", "--format", "{{json .Config}}", tag)
        metadata += podman.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag)
        named = [needle for needle in needles if needle in metadata]
        if named:
            raise StepFailed(f"{tag}'s configuration or history names {', '.join(named)}")
    print(f"    {', '.join(tags)}: no {', '.join(paths)} inside, in the venv's metadata or in"
          " the image history")  # fmt: skip


# argv: the paths and URLs of the machine's pip sources; prints what it finds.
LEAK_PROBE = """
import glob, os, sys
needles = sys.argv[1:]
for path in needles:
    if path.startswith("/") and os.path.lexists(path):
        print("exists:", path)
files = ["/opt/venv/pyvenv.cfg", *glob.glob("/opt/venv/lib/python3*/site-packages/*.dist-info/*")]
for name in files:
    if os.path.isfile(name):
        text = open(name, encoding="utf-8", errors="replace").read()
        for needle in needles:
            if needle in text:
                print(name, "names", needle)
"""


def run(args: argparse.Namespace, steps: Steps, podman: Podman, containers: Containers) -> int:
    out: Path = args.out
    with steps.step("check podman under the private configuration"):
        check_podman(podman)
    with steps.step(f"base image {BASE_IMAGE} (debootstrap)"):
        base = build_base(podman, BASE_IMAGE, args.work / "base", rebuild=args.rebuild_base)
        made = f"made in {base.seconds:.0f} s" if base.seconds else "already built (reused)"
        print(f"    Debian from {base.mirror}: {made},"
              f" {podman.image_size(BASE_IMAGE) / MB:.0f} MB")  # fmt: skip
    tags = {"server": args.server_image, "server-torch": args.torch_server_image,
            "operator": args.operator_image}  # fmt: skip
    sources = machine_pip_sources()
    print(f"    this machine's pip sources: {' '.join(sources.find_links) or 'no find-links'};"
          f" {' '.join(sources.extra_index_urls) or 'no extra index'}")  # fmt: skip
    built: list[Built] = []
    for spec in IMAGES:
        tag = tags[spec.key]
        extra = " ".join(f"{k}={v}" for k, v in spec.build_args)
        with steps.step(f"build {tag} ({spec.dockerfile}{' ' + extra if extra else ''})"):
            log = out / "logs" / f"build-{spec.key}.log"
            build_args = dict(spec.build_args)
            if spec.machine_sources:
                build_args = {**sources.build_args(), **build_args}
            mounts = sources.mounts() if spec.machine_sources else []
            seconds = podman.build(spec.dockerfile, tag, BASE_IMAGE, REPO, log,
                                   build_args=build_args, mounts=mounts)  # fmt: skip
            built.append(Built(spec, tag, seconds, podman.image_size(tag)))
            print(f"    built in {seconds:.0f} s, {built[-1].size / MB:.0f} MB (log {log})")
    with steps.step(f"no layer holds the build's CA bundle ({CA_BUNDLE}) or pip sources"):
        base_digest = podman.file_digest(BASE_IMAGE, CA_BUNDLE)
        for image in built:
            if podman.file_digest(image.tag, CA_BUNDLE) != base_digest:
                raise StepFailed(f"{image.tag}'s {CA_BUNDLE} is not the base image's own")
        print(f"    every image has the base's own bundle (sha256 {base_digest[:12]})")
        check_no_pip_sources(podman, [i.tag for i in built if i.spec.machine_sources], sources)
    state = out / "state"
    state.mkdir(parents=True, exist_ok=True)
    audio: Path = args.audio
    jfk, mandarin = reference(audio, "jfk.flac"), reference(audio, "BAC009S0764W0121.wav")
    with steps.step("the operator image as the chart's Deployment, against the emulator"):
        operator = start_operator(containers, containers.children, CHART, tags, state)
    with steps.step(f"the operator reconciles {EXAMPLE.relative_to(REPO)}"):
        english = operator.reconcile(EXAMPLE)
    with steps.step("the server image as the english pod: /readyz, OpenAI route, stream, drain"):
        ready_s = smoke_english(containers, english, jfk, state)
    with steps.step("whisper-base from the bundled models: the Mandarin clip, simplified"):
        smoke_mandarin(operator, containers, mandarin, state)
    with steps.step("model.engine: torch: the PyTorch build as its pod, jfk word for word"):
        torch_ready_s = smoke_torch(operator, containers, args.torch_server_image, jfk, state)
    with steps.step(
        "a SpeechModel's Job fetches tiny.en from moto's S3; the server on it, read-only"
    ):
        smoke_speech_model(operator, containers, jfk, state)
    with steps.step("SIGTERM the operator"):
        stop_operator(operator)
    with steps.step(f"save the images as docker-archive tars in {out}"):
        for image in built:
            archive = out / image.spec.archive
            podman.save(image.tag, archive)
            loads_as = archive_tags(archive)
            if image.tag not in loads_as:
                raise StepFailed(f"{archive} loads as {loads_as}, not {image.tag}")
            print(f"    {archive} ({archive.stat().st_size / MB:.0f} MB): loads as {image.tag}")
    print("\nimage            size     budget   build")
    for image in built:
        verdict = "OVER BUDGET" if image.over_budget else "ok"
        print(f"{image.spec.key:<16} {image.size / MB:4.0f} MB  {image.spec.budget_mb:4d} MB"
              f"  {image.seconds:4.0f} s  {verdict}")  # fmt: skip
    print(f"server ready {ready_s:.1f} s after start (whisper-tiny.en, rendered english pod);"
          f" PyTorch build {torch_ready_s:.1f} s (tiny.en's checkpoint made at build)")  # fmt: skip
    over = [image for image in built if image.over_budget]
    if over:
        names = ", ".join(f"{i.tag} {i.size / MB:.0f} MB > {i.spec.budget_mb} MB" for i in over)
        print(f"\nimage-test: FAILED: over the size budget: {names}", file=sys.stderr)
        return 1
    return 0


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-image", required=True, help="tag of the server image")
    parser.add_argument(
        "--torch-server-image",
        help="tag of the server image's PyTorch build"
        " (default: the server's tag plus -torch, as the chart names it)",
    )
    parser.add_argument("--operator-image", required=True, help="tag of the operator image")
    parser.add_argument("--work", type=Path, default=REPO / ".podman", help="podman's work dir")
    parser.add_argument("--out", type=Path, default=REPO / ".images", help="archives and logs")
    parser.add_argument("--audio", type=Path, default=REPO.parent / "shared" / "audio")
    parser.add_argument("--rebuild-base", action="store_true", help="debootstrap again")
    args = parser.parse_args(argv)
    args.torch_server_image = args.torch_server_image or f"{args.server_image}-torch"
    reason = cannot_run_here()
    if reason is not None:
        print(f"image-test: cannot build or run the images here: {reason}", file=sys.stderr)
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM):  # clean up on either
        signal.signal(sig, _raise_interrupt)
    started = time.monotonic()
    podman = Podman({**os.environ, **write_config(args.work)})
    steps, children = Steps(), Children()
    containers = Containers(podman, children, args.out / "logs")
    try:
        code = run(args, steps, podman, containers)
    except KeyboardInterrupt:
        print(f"\nimage-test: interrupted during {steps.current}", file=sys.stderr)
        code = 130
    except (StepFailed, PodmanFailed, UnsupportedPodSpec, NoDebianMirror, RuntimeError) as exc:
        print(f"\nimage-test: FAILED at {steps.current}: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        containers.remove_all()
        children.stop_all()
    print(
        f"image-test: {'passed' if code == 0 else 'failed'} in {time.monotonic() - started:.0f} s"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
