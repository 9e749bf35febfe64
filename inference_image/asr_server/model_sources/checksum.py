"""SHA-256 of downloaded files, computed while they stream or afterwards, and its check."""

from __future__ import annotations

import hashlib
from pathlib import Path

from asr_server.model_sources.errors import ExitCode, FetchError

CHUNK = 1 << 20
"""Read and write unit for streamed files (memory stays flat whatever the model's size)."""


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def verify_sha256(actual: str, expected: str | None, what: str) -> None:
    """Raise a checksum mismatch unless `expected` is None or equal to `actual`."""
    if expected is not None and actual != expected:
        raise FetchError(
            f"sha256 mismatch for {what}: expected {expected}, got {actual}", ExitCode.INVALID
        )
