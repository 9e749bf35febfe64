"""This machine's own package sources (pip's find-links and extra index URLs), handed to the
inference image's build so that its pip finds what `make venv`'s pip finds: here, torch's CPU
build lies in a local wheel directory and no index on the network has it.

They reach the build as the Dockerfile's PIP_FIND_LINKS / PIP_EXTRA_INDEX_URL build args (the
build stage's environment only), and each local directory among them is bind-mounted read-only
at its own path into the build stage's RUN steps (Podman.build), so no layer of the image
holds any of it. A local
index (file:///srv/pypi/simple) is mounted from its parent: a PEP 503 page links its files by
relative paths, which here lead beside `simple/` (../../files/...).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

KEYS = ("find-links", "extra-index-url")
# `pip config list` names a value by where it comes from; the later ones win (pip's order).
ORIGINS = ("global", "user", "site", "install", ":env:")


@dataclass(frozen=True)
class PipSources:
    find_links: tuple[str, ...] = ()
    extra_index_urls: tuple[str, ...] = ()

    def build_args(self) -> dict[str, str]:
        """The Dockerfile's build args that make its pip see these sources."""
        return {
            "PIP_FIND_LINKS": " ".join(self.find_links),
            "PIP_EXTRA_INDEX_URL": " ".join(self.extra_index_urls),
        }

    def mounts(self) -> list[Path]:
        """The local directories the build must see at their own paths."""
        found: list[Path] = []
        for source, is_index in [(s, False) for s in self.find_links] + [
            (s, True) for s in self.extra_index_urls
        ]:
            path = local_path(source)
            if path is None:
                continue
            if is_index and path.name == "simple":
                path = path.parent
            if path.is_dir() and path not in found:
                found.append(path)
        return found


def local_path(source: str) -> Path | None:
    """The directory a find-links/index entry names on this machine (None: a remote URL)."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and source.startswith("/"):
        return Path(source)
    return None


def parse_config_list(text: str) -> PipSources:
    """`pip config list` output (`origin.key='value'` lines) as the sources pip uses."""
    chosen: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        origin, _, key = name.rpartition(".")
        if not sep or key not in KEYS:
            continue
        rank = ORIGINS.index(origin) if origin in ORIGINS else 0
        if key not in chosen or rank >= chosen[key][0]:
            chosen[key] = (rank, value.strip().strip("'\""))
    return PipSources(
        find_links=tuple(chosen.get("find-links", (0, ""))[1].split()),
        extra_index_urls=tuple(chosen.get("extra-index-url", (0, ""))[1].split()),
    )


def machine_pip_sources() -> PipSources:
    """What this interpreter's pip is configured with (files and PIP_* variables)."""
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    return parse_config_list(done.stdout)
