"""`asr-server fetch-model URI DEST`: put a CTranslate2 Whisper model from a URI into DEST.

The operator runs this as an init container for a `spec.model.uri`. Schemes:

- `file:///path` — a model directory (copied) or an archive (.tar, .tar.gz, .zip: unpacked).
- `http(s)://host/model.tar.gz[#sha256=HEX]` — downloaded with a timeout to a temp file, checked
  against the sha256 when one is given (fragment or `--sha256`), then unpacked.
- `pvc://CLAIM/PATH` — the operator mounts the claim read-only at /model-source; nothing is
  copied, the command only checks that PATH holds a model there.
- `hf://` and `s3://` — not supported in this build (no network access to those at run time):
  pre-fetch the model into a PersistentVolumeClaim and use `pvc://`.

DEST appears complete or not at all: everything is assembled in a temp directory beside it
and renamed into place. A DEST already fetched from the same URI is kept.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from asr_server.contract import URI_SCHEMES

PVC_MOUNT = Path("/model-source")
"""Where the operator mounts a pvc:// model's claim."""
MARKER = ".fetched-from"
"""File in DEST recording the URI it came from (makes a re-run of the init container a no-op)."""
_CHUNK = 1 << 20


@dataclass
class FetchError(Exception):
    """A fetch that failed; `exit_code`: 2 bad or unsupported URI, 3 source unreachable or
    missing, 4 content failed verification."""

    message: str
    exit_code: int = 3

    def __str__(self) -> str:
        return self.message


def split_sha256(uri: str, sha256: str | None = None) -> tuple[str, str | None]:
    """(uri without a `#sha256=` fragment, expected hex digest or None)."""
    base, _, fragment = uri.partition("#")
    if fragment.startswith("sha256="):
        from_uri = fragment.removeprefix("sha256=").lower()
        if sha256 and sha256.lower() != from_uri:
            raise FetchError("--sha256 and the URI's #sha256= disagree", exit_code=2)
        sha256 = from_uri
    elif fragment:
        raise FetchError(f"unsupported URI fragment #{fragment} (only #sha256=HEX)", exit_code=2)
    if sha256 is not None:
        sha256 = sha256.lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise FetchError(f"sha256 must be 64 hex digits; got {sha256!r}", exit_code=2)
    return base, sha256


def fetch_model(
    uri: str,
    dest: Path,
    *,
    sha256: str | None = None,
    timeout_s: float = 60.0,
    pvc_mount: Path = PVC_MOUNT,
) -> Path:
    """Fetch `uri` into `dest` (or, for pvc://, verify it in place); returns the model dir."""
    base, digest = split_sha256(uri, sha256)
    parts = urllib.parse.urlsplit(base)
    scheme = parts.scheme.lower()
    if scheme in ("hf", "s3"):
        raise FetchError(
            f"{scheme}:// models are not supported in this build (it has no access to "
            f"{'the Hugging Face Hub' if scheme == 'hf' else 'S3'} at run time): pre-fetch the "
            "model into a PersistentVolumeClaim and use pvc://CLAIM/PATH",
            exit_code=2,
        )
    if scheme not in URI_SCHEMES:  # the schemes the CRD admits (the SpeechRecognizer contract)
        schemes = ", ".join(f"{s}://" for s in URI_SCHEMES)
        raise FetchError(f"unsupported model URI {base!r}: use {schemes}", exit_code=2)
    if scheme == "pvc":
        return _check_pvc(parts, pvc_mount)
    if _already_fetched(dest, uri):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as work:
        staging = Path(work) / "model"
        if scheme == "file":
            _from_file(Path(urllib.parse.unquote(parts.path)), staging, digest)
        else:
            download = Path(work) / "download"
            _download(base, download, digest, timeout_s)
            _materialise(download, staging, Path(parts.path).name or "download")
        model_dir = _model_root(staging, uri)
        (model_dir / MARKER).write_text(uri + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        model_dir.rename(dest)
    return dest


def _check_pvc(parts: urllib.parse.SplitResult, mount: Path) -> Path:
    if not parts.netloc:
        raise FetchError("pvc:// URI needs a claim: pvc://CLAIM/PATH", exit_code=2)
    path = mount / parts.path.strip("/")
    if not (path / "model.bin").is_file():
        raise FetchError(
            f"no model.bin at {path} (claim {parts.netloc} mounted at {mount})", exit_code=3
        )
    return path


def _already_fetched(dest: Path, uri: str) -> bool:
    marker = dest / MARKER
    return (dest / "model.bin").is_file() and marker.is_file() and marker.read_text().strip() == uri


def _from_file(source: Path, staging: Path, digest: str | None) -> None:
    if source.is_dir():
        if digest:
            raise FetchError("--sha256 applies to a file or archive, not a directory", 2)
        shutil.copytree(source, staging)
    elif source.is_file():
        _verify(_sha256_of(source), digest)
        _materialise(source, staging, source.name)
    else:
        raise FetchError(f"file:// source {source} does not exist", exit_code=3)


def _download(url: str, target: Path, digest: str | None, timeout_s: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "asr-server fetch-model"})
    hasher = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout_s) as response,
            target.open("wb") as out,
        ):
            while chunk := response.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason} fetching {url}", exit_code=3) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            host = urllib.parse.urlsplit(url).hostname
            raise FetchError(f"cannot resolve host {host!r} ({reason.strerror})", 3) from None
        if isinstance(reason, TimeoutError):
            raise FetchError(f"timed out after {timeout_s:g} s fetching {url}", 3) from None
        raise FetchError(f"cannot fetch {url}: {reason}", exit_code=3) from None
    except TimeoutError:
        raise FetchError(f"timed out after {timeout_s:g} s fetching {url}", 3) from None
    except OSError as exc:
        raise FetchError(f"cannot fetch {url}: {exc}", exit_code=3) from None
    _verify(hasher.hexdigest(), digest)


def _materialise(file: Path, staging: Path, name: str) -> None:
    """Unpack an archive into `staging`, or place a single file there under `name`."""
    staging.mkdir()
    if tarfile.is_tarfile(file):
        with tarfile.open(file) as archive:
            archive.extractall(staging, filter="data")  # refuses absolute paths and ../
    elif zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise FetchError(f"archive member {member!r} escapes the model dir", 4)
            archive.extractall(staging)
    else:
        shutil.copyfile(file, staging / name)


def _model_root(staging: Path, uri: str) -> Path:
    """The directory holding model.bin: `staging`, or its only subdirectory (archives made
    with `tar czf model.tgz whisper-x/` wrap the files in one folder)."""
    if (staging / "model.bin").is_file():
        return staging
    children = list(staging.iterdir())
    if len(children) == 1 and (children[0] / "model.bin").is_file():
        return children[0]
    raise FetchError(f"{uri} holds no CTranslate2 model.bin", exit_code=4)


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _verify(actual: str, expected: str | None) -> None:
    if expected is not None and actual != expected:
        raise FetchError(f"sha256 mismatch: expected {expected}, got {actual}", exit_code=4)
