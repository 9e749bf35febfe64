"""file://: a model directory (only its model files copied) or an archive (unpacked)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asr_server.model_sources import ExitCode, FetchError, fetch_model
from support.model_dirs import MODEL_FILES, assert_model, tar_bytes


def test_a_directory_contributes_its_model_files_only(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "custom"
    result = fetch_model(model_dir.as_uri(), dest)
    assert result.path == dest and result.size == sum(map(len, MODEL_FILES.values()))
    assert_model(dest)  # README.md stayed behind
    assert (model_dir / "README.md").exists(), "the source is copied from, not moved"


def test_an_archive_is_checked_and_unpacked(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar"
    archive.write_bytes(tar_bytes({f"whisper/{n}": d for n, d in MODEL_FILES.items()}))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    fetch_model(f"{archive.as_uri()}#sha256={digest}", tmp_path / "dest")
    assert_model(tmp_path / "dest")
    with pytest.raises(FetchError, match="sha256 mismatch") as caught:
        fetch_model(archive.as_uri(), tmp_path / "other", sha256="0" * 64)
    assert caught.value.exit_code == ExitCode.INVALID
    assert not (tmp_path / "other").exists()


def test_a_missing_path_exits_3(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="does not exist") as caught:
        fetch_model((tmp_path / "absent").as_uri(), tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_a_directory_missing_model_files_exits_4(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "tokenizer.json").unlink()
    with pytest.raises(FetchError, match=r"has no tokenizer\.json") as caught:
        fetch_model(model_dir.as_uri(), tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.INVALID
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [("file://server/share/model", "not host 'server'"), ("DIR#sha256=" + "a" * 64, "directory")],
)
def test_bad_file_uris_exit_2(uri: str, message: str, model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=message) as caught:
        fetch_model(uri.replace("DIR", model_dir.as_uri()), tmp_path / "dest")
    assert caught.value.exit_code == ExitCode.USAGE
