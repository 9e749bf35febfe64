"""Unpacking archives safely: nothing outside the target, no links out, bounded size."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from asr_server.model_sources.archive import MAX_MEMBERS, unpack
from asr_server.model_sources.errors import ExitCode, FetchError
from support.model_dirs import tar_bytes, zip_bytes


def _tar_with(*members: tarfile.TarInfo) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for member in members:
            archive.addfile(member, io.BytesIO(b"x" * member.size) if member.size else None)
    return out.getvalue()


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 0
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, size
    return info


def _unpack(tmp_path: Path, data: bytes, max_bytes: int = 1 << 20) -> Path:
    tmp_path.mkdir(exist_ok=True)
    archive = tmp_path / "archive"
    archive.write_bytes(data)
    target = tmp_path / "out" / "unpacked"
    target.parent.mkdir()
    unpack(archive, target, max_bytes=max_bytes, what="the archive")
    return target


def test_tar_gz_and_zip_unpack(tmp_path: Path) -> None:
    files = {"m/model.bin": b"weights", "m/config.json": b"{}"}
    assert (_unpack(tmp_path / "a", tar_bytes(files, "w:gz")) / "m/model.bin").read_bytes()
    assert (_unpack(tmp_path / "b", zip_bytes(files)) / "m/config.json").read_bytes() == b"{}"


@pytest.mark.parametrize(
    "member",
    [
        _member("../escaped", size=4),
        _member("link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("up", tarfile.SYMTYPE, "../../outside"),
        _member("hard", tarfile.LNKTYPE, "/etc/passwd"),
        _member("device", tarfile.CHRTYPE),
    ],
    ids=["dotdot", "symlink-absolute", "symlink-up", "hardlink", "device"],
)
def test_tar_members_that_leave_the_target_are_refused(
    tmp_path: Path, member: tarfile.TarInfo
) -> None:
    with pytest.raises(FetchError, match=r"archive member .* refused") as caught:
        _unpack(tmp_path / "a", _tar_with(_member("model.bin", size=3), member))
    assert caught.value.exit_code == ExitCode.INVALID
    assert not (tmp_path / "escaped").exists()
    assert not any(p.is_symlink() for p in (tmp_path / "a").rglob("*"))


def test_an_absolute_name_lands_inside(tmp_path: Path) -> None:
    target = _unpack(tmp_path, _tar_with(_member("/tmp/absolute", size=4)))
    assert (target / "tmp" / "absolute").read_bytes() == b"xxxx"


def test_a_link_inside_the_target_is_kept(tmp_path: Path) -> None:
    data = _tar_with(
        _member("blobs/abc", size=5), _member("model.bin", tarfile.SYMTYPE, "blobs/abc")
    )
    assert (_unpack(tmp_path / "a", data) / "model.bin").read_bytes() == b"xxxxx"


@pytest.mark.parametrize("name", ["../escaped", "/abs/escaped", "C:/escaped", "..\\escaped"])
def test_zip_members_that_leave_the_target_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(FetchError, match="points outside the model directory") as caught:
        _unpack(tmp_path, zip_bytes({"model.bin": b"m", name: b"x"}))
    assert caught.value.exit_code == ExitCode.INVALID
    assert not (tmp_path / "escaped").exists()


def test_zip_links_are_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        link = zipfile.ZipInfo("model.bin")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(FetchError, match="is a link"):
        _unpack(tmp_path, out.getvalue())


@pytest.mark.parametrize("pack", [tar_bytes, zip_bytes])
def test_size_is_bounded_before_anything_is_written(tmp_path: Path, pack: object) -> None:
    data = pack({"model.bin": b"x" * 600, "more.bin": b"y" * 600})  # type: ignore[operator]
    with pytest.raises(FetchError, match="unpacked is larger than") as caught:
        _unpack(tmp_path, data, max_bytes=1000)
    assert caught.value.exit_code == ExitCode.INVALID
    assert not list((tmp_path / "out" / "unpacked").iterdir())


def test_member_count_is_bounded(tmp_path: Path) -> None:
    data = tar_bytes({f"f{i}": b"" for i in range(MAX_MEMBERS + 1)})
    with pytest.raises(FetchError, match=f"more than {MAX_MEMBERS} members"):
        _unpack(tmp_path, data)


def test_a_truncated_archive_is_corrupt(tmp_path: Path) -> None:
    data = tar_bytes({"model.bin": bytes(range(256)) * 400}, "w:gz")
    with pytest.raises(FetchError, match="corrupt archive") as caught:
        _unpack(tmp_path, data[: len(data) // 2])
    assert caught.value.exit_code == ExitCode.INVALID


def test_a_file_that_is_no_archive(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="neither a model directory nor an archive"):
        _unpack(tmp_path, b"plain bytes, not an archive")
