"""http(s):// against a real HTTP server on 127.0.0.1: archives, digests, refusals, failures."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asr_server.model_sources import ExitCode, FetchError, FetchSettings, fetch_model
from support.model_dirs import MODEL_FILES, assert_model, tar_bytes, zip_bytes

AUTHORIZATION = "Basic cmVhZGVyOnBhNTV3b3Jk"  # reader:pa55word


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Files from a directory; those under /private/ need reader:pa55word (HTTP Basic)."""

    def do_GET(self) -> None:
        if self.path.startswith("/private/"):
            if self.headers.get("Authorization") != AUTHORIZATION:
                self.send_error(401, "Unauthorized")
                return
            self.path = self.path.removeprefix("/private")
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, model_dir: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served directory) of a real HTTP server holding model archives."""
    root = tmp_path / "www"
    root.mkdir()
    with tarfile.open(root / "model.tar.gz", "w:gz") as archive:
        archive.add(model_dir, arcname="whisper-custom")  # wrapped in one folder
    (root / "model.zip").write_bytes(zip_bytes(MODEL_FILES))
    (root / "notamodel.tar").write_bytes(tar_bytes({"README": b"hi"}))
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["model.tar.gz", "model.zip"])
def test_an_archive_is_downloaded_checked_and_unpacked(
    served: tuple[str, Path], tmp_path: Path, name: str
) -> None:
    url, root = served
    dest = tmp_path / "models" / "custom"
    result = fetch_model(f"{url}/{name}", dest, sha256=_sha(root / name))
    assert (result.path, result.files, result.reused) == (dest, len(MODEL_FILES), False)
    assert_model(dest)


def test_a_digest_mismatch_exits_4_and_leaves_nothing(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = served
    models = tmp_path / "models"
    with pytest.raises(FetchError, match=r"sha256 mismatch .*: expected f{64}, got [0-9a-f]{64}"):
        fetch_model(f"{url}/model.zip#sha256={'f' * 64}", models / "dest")
    assert [p.name for p in models.iterdir()] == [".dest.lock"]


def test_http_404_exits_3(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(FetchError, match=r"HTTP 404 .*missing\.tgz") as caught:
        fetch_model(f"{url}/missing.tgz", tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_credentials_in_the_uri_are_sent_and_never_shown(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = served
    fetch_model(url.replace("//", "//reader:pa55word@") + "/private/model.zip", tmp_path / "ok")
    assert_model(tmp_path / "ok")
    assert "pa55word" not in (tmp_path / "ok" / ".fetched-from").read_text()
    wrong = url.replace("//", "//reader:wr0ng@") + "/private/model.zip?token=t0ken"
    with pytest.raises(FetchError) as caught:
        fetch_model(wrong, tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.DENIED
    assert "HTTP 401" in str(caught.value)
    assert "wr0ng" not in str(caught.value) and "t0ken" not in str(caught.value)


def test_an_archive_without_a_model_exits_4(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(FetchError, match=r"has no model\.bin") as caught:
        fetch_model(f"{url}/notamodel.tar", tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.INVALID


def test_a_download_over_the_size_limit_is_cut_off(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = served
    with pytest.raises(FetchError, match=r"larger than the .* GiB limit") as caught:
        fetch_model(f"{url}/model.tar.gz", tmp_path / "dest", FetchSettings(max_bytes=100))
    assert caught.value.exit_code == ExitCode.INVALID


def test_unknown_host(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"cannot resolve host 'models\.invalid'"):
        fetch_model("http://models.invalid/m.tgz", tmp_path / "dest", FetchSettings(timeout_s=5))


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/m.tgz"
        with pytest.raises(FetchError, match=r"timed out after 0\.3 s") as caught:
            fetch_model(url, tmp_path / "dest", FetchSettings(timeout_s=0.3))
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_a_uri_without_a_host_exits_2(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="needs a host") as caught:
        fetch_model("https:///m.tgz", tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.USAGE
