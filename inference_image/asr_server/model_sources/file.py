"""`file:///PATH`: a model directory (its model files are copied) or an archive (unpacked)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from asr_server.model_sources.archive import unpack
from asr_server.model_sources.base import Download, Fetched
from asr_server.model_sources.checksum import sha256_of, verify_sha256
from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.settings import FetchSettings
from asr_server.model_sources.uri import ModelUri


def parse(uri: ModelUri) -> tuple[Path, str | None]:
    if uri.authority not in ("", "localhost"):
        raise FetchError(
            f"file:// URIs name a local path (file:///PATH), not host {uri.authority!r}",
            ExitCode.USAGE,
        )
    return Path(urllib.parse.unquote(uri.path)), uri.sha256


def fetch(location: tuple[Path, str | None], work: Path, settings: FetchSettings) -> Fetched:
    source, sha256 = location
    if source.is_dir():
        if sha256:
            raise FetchError(
                "--sha256 applies to a file or an archive, not a directory", ExitCode.USAGE
            )
        return Fetched(source, owned=False)
    if not source.is_file():
        raise FetchError(f"file:// source {source} does not exist", ExitCode.UNAVAILABLE)
    verify_sha256(sha256_of(source), sha256, str(source))
    unpack(source, work / "unpacked", max_bytes=settings.max_bytes, what=str(source))
    return Fetched(work / "unpacked", owned=True)


SOURCE = Download(parse, fetch)
