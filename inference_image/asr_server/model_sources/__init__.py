"""Model sources: `asr-server fetch-model URI DEST` puts a model from a URI into DEST.

One module per scheme, registered in `SOURCE_MODULES`; `SCHEMES` is the contract the
SpeechRecognizer CRD's `spec.model.uri` must admit exactly:

- `file:///PATH` — a model directory (its model files copied) or an archive (unpacked).
- `http(s)://HOST/PATH[#sha256=HEX]` — an archive, downloaded, checked, unpacked.
- `pvc://CLAIM/PATH` — a claim the operator mounts read-only: checked in place, not copied.
- `hf://ORG/REPO[@REVISION][/SUBDIR]` — a Hugging Face Hub repository (HF_ENDPOINT, HF_TOKEN).
- `s3://BUCKET/PREFIX[#sha256=HEX]` — a directory of model files or one archive (boto3).

Shared parts: the URI (uri.py), which files make a model (layout.py), safe unpacking
(archive.py), checksums (checksum.py), the atomic install and its marker (install.py), the
settings (settings.py) and the one error type (errors.py). DEST ends up complete or absent,
holding exactly the engine's model files plus the marker; a fetch of a URI already complete
in DEST does nothing. A source module is imported only when its scheme is used, so the
server's start does not pay for boto3 or huggingface_hub.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from asr_server.model_sources import install
from asr_server.model_sources.base import Download, InPlace, Source
from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.layout import LAYOUTS, model_root
from asr_server.model_sources.settings import PVC_MOUNT, FetchSettings
from asr_server.model_sources.uri import ModelUri, parse_uri

__all__ = [
    "PVC_MOUNT",
    "SCHEMES",
    "ExitCode",
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "fetch_model",
]

log = logging.getLogger(__name__)

SOURCE_MODULES = {
    "file": "file",
    "http": "http",
    "https": "http",
    "pvc": "pvc",
    "hf": "hf",
    "s3": "s3",
}
"""URI scheme -> module of this package implementing it."""
SCHEMES = tuple(SOURCE_MODULES)
"""The URI schemes fetch-model implements (the CRD's `spec.model.uri` admits exactly these)."""


@dataclass(frozen=True)
class FetchResult:
    path: Path
    """The model directory: DEST, or for pvc:// the directory on the mounted claim."""
    files: int
    size: int
    """Bytes of model files."""
    revision: str | None = None
    """What the source resolved the URI to (a Hugging Face commit)."""
    reused: bool = False
    """DEST already held this fetch (or the model is used in place): nothing was downloaded."""


def source_for(uri: ModelUri) -> Source:
    module = SOURCE_MODULES.get(uri.scheme)
    if module is None:
        raise FetchError(
            f"unsupported model URI scheme {uri.scheme}:// (use "
            f"{', '.join(s + '://' for s in SCHEMES)})",
            ExitCode.USAGE,
        )
    source: Source = importlib.import_module(f"{__name__}.{module}").SOURCE
    return source


def fetch_model(
    uri: str, dest: Path, settings: FetchSettings | None = None, *, sha256: str | None = None
) -> FetchResult:
    """Fetch `uri` into `dest` (for pvc://, check it in place); see the module docstring."""
    settings = settings or FetchSettings()
    model_uri = parse_uri(uri, sha256)
    source = source_for(model_uri)
    location = source.parse(model_uri)
    if isinstance(source, InPlace):
        path = source.locate(location, settings)
        files = LAYOUTS[settings.engine].select(p.name for p in path.iterdir())
        size = sum((path / name).stat().st_size for name in files)
        return FetchResult(path, len(files), size, reused=True)
    assert isinstance(source, Download)
    with install.locked(dest):
        done = install.installed(dest, model_uri, settings.engine)
        if done is not None:
            return FetchResult(dest, len(done.files), done.size, done.revision, reused=True)
        log.info("fetching %s into %s", model_uri.shown, dest)
        with install.work_dir(dest) as work:
            fetched = source.fetch(location, work, settings)
            root = model_root(fetched.root)
            layout = LAYOUTS[settings.engine]
            names = layout.select(p.name for p in root.iterdir() if p.is_file())
            layout.check(names, model_uri.shown)
            record = install.Installed(
                key=model_uri.key,
                source=model_uri.shown,
                engine=settings.engine,
                revision=fetched.revision,
                files={name: (root / name).stat().st_size for name in names},
            )
            install.install(root, names, owned=fetched.owned, dest=dest, work=work, record=record)
    return FetchResult(dest, len(record.files), record.size, record.revision)
