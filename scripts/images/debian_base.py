"""The base image `make image-test` builds on, made from nothing: no registry to pull one from.

`debootstrap --variant=minbase` installs Debian with Python 3.11 into a directory, which is then
imported as a one-layer image. The mirror is the one apt on this machine uses (read from its
sources), so the target goes through whatever mirror or proxy the machine is set up for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from podman_cli import Podman, log_tail

SUITE = "bookworm"  # Debian 12: Python 3.11, the version the constraints are pinned for
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
APT_SOURCES = Path("/etc/apt")
# Set to use another mirror than the one apt uses (the URL of a Debian archive).
MIRROR_ENV = "DEBIAN_MIRROR"


class NoDebianMirror(RuntimeError):
    """apt's sources name no Debian archive debootstrap could use."""


@dataclass(frozen=True)
class AptSource:
    """One `deb` entry of apt's sources: the archive URL and the suites it is used for."""

    uri: str
    suites: tuple[str, ...]


def parse_one_line(text: str) -> list[AptSource]:
    """`deb [options] URI SUITE COMPONENT...` lines (sources.list format)."""
    found: list[AptSource] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            found.append(AptSource(words[0], (words[1],)))
    return found


def parse_deb822(text: str) -> list[AptSource]:
    """Stanzas of `Types:`, `URIs:`, `Suites:` fields (the .sources format)."""
    found: list[AptSource] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:  # a continuation line
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        found.extend(AptSource(uri, suites) for uri in fields.get("uris", "").split())
    return found


def apt_sources(root: Path = APT_SOURCES) -> list[AptSource]:
    """Every `deb` source apt reads, in apt's order: sources.list, then sources.list.d/."""
    files = [root / "sources.list", *sorted((root / "sources.list.d").glob("*"))]
    found: list[AptSource] = []
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".sources":
            found += parse_deb822(text)
        elif path.suffix == ".list" or path.name == "sources.list":
            found += parse_one_line(text)
    return found


def debian_mirror(sources: Iterable[AptSource], codename: str) -> str:
    """The first http(s) archive apt uses for this machine's release `codename` itself (not
    its -security or -updates suites): a Debian archive, which also serves SUITE."""
    for source in sources:
        if source.uri.startswith(("http://", "https://")) and codename in source.suites:
            return source.uri.rstrip("/")
    raise NoDebianMirror(
        f"apt's sources ({APT_SOURCES}) name no http(s) archive for this machine's release"
        f" {codename or '(unknown)'}; set {MIRROR_ENV}=<Debian mirror URL>"
    )


def release_codename(os_release: Path = Path("/etc/os-release")) -> str:
    """VERSION_CODENAME of this machine ('' when it has none)."""
    if not os_release.is_file():
        return ""
    for line in os_release.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip().strip('"')
    return ""


def mirror() -> str:
    return os.environ.get(MIRROR_ENV) or debian_mirror(apt_sources(), release_codename())


@dataclass(frozen=True)
class BaseImage:
    tag: str
    seconds: float
    """How long making it took (0 when it existed already)."""
    mirror: str


def build_base(podman: Podman, tag: str, scratch: Path, *, rebuild: bool) -> BaseImage:
    """`tag` in podman's storage: debootstrap into `scratch`, drop apt's caches, import."""
    source = mirror()
    if podman.image_exists(tag) and not rebuild:
        return BaseImage(tag, 0.0, source)
    started = time.monotonic()
    rootfs = scratch / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    log = scratch / "debootstrap.log"
    with log.open("wb") as out:
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
             SUITE, str(rootfs), source],
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"debootstrap {SUITE} from {source} failed ({log}):\n{log_tail(log)}")
    # What `apt-get clean` and a removed package list leave: the image needs neither.
    for cache in (rootfs / "var/cache/apt/archives", rootfs / "var/lib/apt/lists"):
        for entry in cache.glob("*"):
            if entry.is_file():
                entry.unlink()
    podman.import_rootfs(rootfs, tag)
    shutil.rmtree(rootfs)
    return BaseImage(tag, time.monotonic() - started, source)
