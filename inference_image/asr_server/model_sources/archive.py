"""Safe unpacking of a model archive (.tar, .tar.gz/.tgz, .zip; recognised by content).

Nothing lands outside the target directory: tar members go through tarfile's `data` filter
(no absolute paths, no `..`, no links pointing out, no device files), zip members with such
names or a link mode are refused. The members' total size and count are bounded before
anything is written, so an archive bomb cannot fill the volume.
"""

from __future__ import annotations

import gzip
import lzma
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from asr_server.model_sources.errors import ExitCode, FetchError, over_limit

MAX_MEMBERS = 10_000
"""Most entries an archive may have (a model directory has a handful)."""
_CORRUPT = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
)


def is_archive(path: Path) -> bool:
    return tarfile.is_tarfile(path) or zipfile.is_zipfile(path)


def unpack(archive: Path, into: Path, *, max_bytes: int, what: str) -> None:
    """Unpack `archive` into the new directory `into`; `what` names it in errors."""
    into.mkdir()
    try:
        if tarfile.is_tarfile(archive):
            _untar(archive, into, max_bytes, what)
        elif zipfile.is_zipfile(archive):
            _unzip(archive, into, max_bytes, what)
        else:
            raise FetchError(
                f"{what} is neither a model directory nor an archive (.tar, .tar.gz, .zip)",
                ExitCode.INVALID,
            )
    except _CORRUPT as exc:
        raise FetchError(f"{what} is a corrupt archive ({exc})", ExitCode.INVALID) from None


def _untar(archive: Path, into: Path, max_bytes: int, what: str) -> None:
    with tarfile.open(archive) as tar:
        members = []
        total = 0
        for member in tar:
            members.append(member)
            total += member.size if member.isreg() else 0
            _check_bounds(len(members), total, max_bytes, what)
        try:
            tar.extractall(into, members=members, filter="data")
        except tarfile.FilterError as exc:
            name = exc.tarinfo.name
            raise FetchError(
                f"{what}: archive member {name!r} refused ({exc})", ExitCode.INVALID
            ) from None


def _unzip(archive: Path, into: Path, max_bytes: int, what: str) -> None:
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        _check_bounds(len(members), sum(m.file_size for m in members), max_bytes, what)
        for member in members:
            path = PurePosixPath(member.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or ":" in "".join(path.parts[:1]):
                raise FetchError(
                    f"{what}: archive member {member.filename!r} points outside the model "
                    "directory",
                    ExitCode.INVALID,
                )
            if stat.S_ISLNK(member.external_attr >> 16):
                raise FetchError(
                    f"{what}: archive member {member.filename!r} is a link", ExitCode.INVALID
                )
        zipped.extractall(into)


def _check_bounds(count: int, total: int, max_bytes: int, what: str) -> None:
    if count > MAX_MEMBERS:
        raise FetchError(f"{what} has more than {MAX_MEMBERS} members", ExitCode.INVALID)
    if total > max_bytes:
        raise over_limit(f"{what} unpacked", max_bytes)
