"""fetch-model against real sources: local dirs and archives, and a real HTTP server on
127.0.0.1 (404, hash mismatch, a server that never answers)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from asr_server.model_fetch import MARKER, FetchError, fetch_model, split_sha256

MODEL_FILES = {"model.bin": b"\x00ct2" * 1000, "config.json": b"{}", "vocabulary.txt": b"a\nb\n"}


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "whisper-custom"
    directory.mkdir()
    for name, data in MODEL_FILES.items():
        (directory / name).write_bytes(data)
    return directory


@pytest.fixture
def served(tmp_path: Path, model_dir: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served directory) of a real HTTP server holding model archives."""
    root = tmp_path / "www"
    root.mkdir()
    with tarfile.open(root / "model.tar.gz", "w:gz") as archive:
        archive.add(model_dir, arcname="whisper-custom")  # wrapped in one folder
    with zipfile.ZipFile(root / "model.zip", "w") as archive:
        for name, data in MODEL_FILES.items():
            archive.writestr(name, data)
    (root / "notamodel.tar").write_bytes(_tar({"README": b"hi"}))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_model(dest: Path) -> None:
    for name, data in MODEL_FILES.items():
        assert (dest / name).read_bytes() == data
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")], "temp dirs left"


def test_file_directory_is_copied(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "custom"
    assert fetch_model(model_dir.as_uri(), dest) == dest
    _assert_model(dest)
    assert (dest / MARKER).read_text().strip() == model_dir.as_uri()


def test_file_archive_is_unpacked_and_hash_checked(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    archive = served[1] / "model.tar.gz"
    dest = tmp_path / "dest"
    fetch_model(f"{archive.as_uri()}#sha256={_sha(archive)}", dest)
    _assert_model(dest)
    with pytest.raises(FetchError, match="sha256 mismatch") as caught:
        fetch_model(archive.as_uri(), tmp_path / "other", sha256="0" * 64)
    assert caught.value.exit_code == 4
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("name", ["model.tar.gz", "model.zip"])
def test_http_archive_is_downloaded_and_unpacked(
    served: tuple[str, Path], tmp_path: Path, name: str
) -> None:
    url, root = served
    dest = tmp_path / "models" / "custom"
    fetch_model(f"{url}/{name}", dest, sha256=_sha(root / name))
    _assert_model(dest)


def test_http_sha256_in_the_fragment_is_checked(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(FetchError, match=r"sha256 mismatch: expected f{64}, got [0-9a-f]{64}"):
        fetch_model(f"{url}/model.zip#sha256={'f' * 64}", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_refetch_of_the_same_uri_is_a_no_op(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    dest = tmp_path / "dest"
    fetch_model(f"{url}/model.zip", dest)
    (root / "model.zip").unlink()  # a second fetch must not need the source
    assert fetch_model(f"{url}/model.zip", dest) == dest
    fetch_model(f"{url}/model.tar.gz", dest)  # a different URI replaces it
    assert (dest / MARKER).read_text().strip() == f"{url}/model.tar.gz"


def test_http_404(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(FetchError, match=r"HTTP 404 .*missing\.tgz") as caught:
        fetch_model(f"{url}/missing.tgz", tmp_path / "dest")
    assert caught.value.exit_code == 3


def test_archive_without_a_model(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(FetchError, match=r"no CTranslate2 model\.bin") as caught:
        fetch_model(f"{url}/notamodel.tar", tmp_path / "dest")
    assert caught.value.exit_code == 4


def test_unknown_host(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"cannot resolve host 'models\.invalid'"):
        fetch_model("http://models.invalid/m.tgz", tmp_path / "dest", timeout_s=5)


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/m.tgz"
        with pytest.raises(FetchError, match=r"timed out after 0\.3 s"):
            fetch_model(url, tmp_path / "dest", timeout_s=0.3)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("hf://openai/whisper-large-v3", "not supported in this build.*pvc://"),
        ("s3://bucket/model.tgz", "not supported in this build.*pvc://"),
        ("ftp://host/model.tgz", "unsupported model URI"),
        ("http://x/m.tgz#md5=abc", "unsupported URI fragment"),
        ("http://x/m.tgz#sha256=xyz", "64 hex digits"),
    ],
)
def test_unsupported_uris_exit_2(uri: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=message) as caught:
        fetch_model(uri, tmp_path / "dest")
    assert caught.value.exit_code == 2


def test_pvc_is_verified_in_place(model_dir: Path, tmp_path: Path) -> None:
    mount = model_dir.parent
    assert fetch_model("pvc://models-claim/whisper-custom", tmp_path / "d", pvc_mount=mount) == (
        model_dir
    )
    assert not (tmp_path / "d").exists()
    with pytest.raises(FetchError, match=r"no model\.bin at .*absent") as caught:
        fetch_model("pvc://models-claim/absent", tmp_path / "d", pvc_mount=mount)
    assert caught.value.exit_code == 3


def test_sha_sources_must_agree() -> None:
    assert split_sha256("http://h/m#sha256=" + "A" * 64) == ("http://h/m", "a" * 64)
    with pytest.raises(FetchError, match="disagree"):
        split_sha256("http://h/m#sha256=" + "a" * 64, "b" * 64)
