"""Putting a fetched model into DEST so that DEST is complete or absent, never half-filled.

Every fetch works in a temp directory beside DEST (same filesystem), under a lock file, and
ends with renames: the old DEST (if any) is moved aside, the new one renamed into place. The
marker file in DEST records what it came from and each file's size; a later fetch of the same
URI finds it complete and does nothing, so a Job retry or a pod restart costs a few stats.
The lock (flock, released by the kernel when the process dies) makes a second fetcher wait,
and lets the holder delete work directories a killed fetcher left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from asr_server.model_sources.uri import ModelUri

MARKER = ".fetched-from"
"""File in DEST recording the fetch (makes a re-run a no-op)."""


@dataclass(frozen=True)
class Installed:
    """What the marker records about a model directory."""

    key: str
    """`ModelUri.key` of the URI it was fetched from."""
    source: str
    """That URI as shown (no secrets)."""
    engine: str
    """The engine whose files were kept (layout.LAYOUTS)."""
    revision: str | None
    """What the source resolved the URI to (a Hugging Face commit), if it says."""
    files: dict[str, int]
    """File name -> size in bytes."""

    @property
    def size(self) -> int:
        return sum(self.files.values())


def installed(dest: Path, uri: ModelUri, engine: str) -> Installed | None:
    """The marker of DEST when DEST holds a complete fetch of `uri` for `engine`, else None."""
    try:
        recorded = Installed(**json.loads((dest / MARKER).read_text()))
        complete = all(
            (dest / name).stat().st_size == size for name, size in recorded.files.items()
        )
    except (OSError, ValueError, TypeError):
        return None
    same = recorded.key == uri.key and recorded.engine == engine
    return recorded if complete and same else None


@contextlib.contextmanager
def locked(dest: Path) -> Iterator[None]:
    """Hold the lock for DEST (waiting for another fetcher), after clearing stale work dirs."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / f".{dest.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for stale in dest.parent.glob(f".{glob.escape(dest.name)}.fetch-*"):
                shutil.rmtree(stale, ignore_errors=True)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def work_dir(dest: Path) -> Iterator[Path]:
    """A temp directory beside DEST, removed with everything in it on the way out."""
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.fetch-", dir=dest.parent) as work:
        yield Path(work)


def install(
    root: Path, names: list[str], *, owned: bool, dest: Path, work: Path, record: Installed
) -> None:
    """Assemble `names` from `root` in `work`, write the marker, and swap it in as DEST.
    Owned files (downloaded into `work`) are moved; others (a local source) are copied."""
    staging = work / "model"
    staging.mkdir()
    for name in names:
        source = root / name
        if owned and not source.is_symlink():
            source.rename(staging / name)
        else:
            shutil.copyfile(source, staging / name)  # follows a link to its content
        (staging / name).chmod(0o644)
    (staging / MARKER).write_text(json.dumps(asdict(record), indent=1) + "\n")
    staging.chmod(0o755)
    _fsync_tree(staging)
    if dest.exists() or dest.is_symlink():
        dest.rename(work / "previous")
    staging.rename(dest)


def _fsync_tree(directory: Path) -> None:
    """Flush the files before the rename publishes them, so a node crash cannot leave a
    complete-looking DEST with empty files."""
    for path in [*directory.iterdir(), directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
