"""`pvc://CLAIM/PATH`: the operator mounts the claim read-only at `FetchSettings.pvc_mount`;
nothing is copied, the model is only checked where it is."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from asr_server.model_sources.base import InPlace
from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.layout import LAYOUTS
from asr_server.model_sources.settings import FetchSettings
from asr_server.model_sources.uri import ModelUri


def parse(uri: ModelUri) -> tuple[str, str]:
    if not uri.authority:
        raise FetchError("pvc:// URI needs a claim: pvc://CLAIM/PATH", ExitCode.USAGE)
    path = urllib.parse.unquote(uri.path).strip("/")
    if ".." in Path(path).parts:
        raise FetchError("a pvc:// PATH must stay inside the claim (no ..)", ExitCode.USAGE)
    return uri.authority, path


def locate(location: tuple[str, str], settings: FetchSettings) -> Path:
    claim, path = location
    directory = settings.pvc_mount / path
    where = f"{directory} (claim {claim} mounted at {settings.pvc_mount})"
    if not directory.is_dir():
        raise FetchError(f"no model directory at {where}", ExitCode.UNAVAILABLE)
    LAYOUTS[settings.engine].check((p.name for p in directory.iterdir()), where)
    return directory


SOURCE = InPlace(parse, locate)
