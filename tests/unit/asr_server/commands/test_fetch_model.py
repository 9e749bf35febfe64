"""`asr-server fetch-model` as a user (or a Job) runs it: progress on stdout, one line on
stderr for a failure, the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_server.__main__ import main
from support.model_dirs import MODEL_FILES, tar_bytes, write_model


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fetch-model", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_then_a_rerun_that_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_model(tmp_path / "src")
    dest = tmp_path / "models" / "custom"
    code, out, err = _run(capsys, source.as_uri(), str(dest))
    assert (code, err) == (0, "")
    assert f"fetching {source.as_uri()} into {dest}" in out
    assert out.splitlines()[-1].startswith(f"model ready at {dest} (fetched: 4 files, 0.0 MB")
    code, out, _ = _run(capsys, source.as_uri(), str(dest))
    assert code == 0 and out == f"model ready at {dest} (already there: 4 files, 0.0 MB)\n"


@pytest.mark.parametrize(
    ("uri", "code", "message"),
    [
        ("ftp://host/model.tgz", 2, "unsupported model URI scheme ftp://"),
        ("hf://openai", 2, "needs ORG/REPO"),
        ("s3:///key", 2, "needs a bucket"),
        ("file:///nonexistent/model", 3, "does not exist"),
    ],
)
def test_errors_are_one_line(
    uri: str, code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code, _, err = _run(capsys, uri, str(tmp_path / "dest"))
    assert exit_code == code
    assert err.startswith("asr-server fetch-model: ") and message in err
    assert err.count("\n") == 1


def test_a_hash_mismatch_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "model.tgz"
    archive.write_bytes(b"model")
    code, _, err = _run(capsys, archive.as_uri(), str(tmp_path / "d"), "--sha256", "0" * 64)
    assert code == 4 and "sha256 mismatch" in err


def test_the_size_limit_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "model.tar"
    archive.write_bytes(tar_bytes(MODEL_FILES))
    code, _, err = _run(capsys, archive.as_uri(), str(tmp_path / "d"), "--max-size-gib", "1e-9")
    assert code == 4 and "--max-size-gib" in err


def test_a_dest_that_cannot_be_created_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_model(tmp_path / "src")
    (tmp_path / "file").write_bytes(b"")
    code, _, err = _run(capsys, source.as_uri(), str(tmp_path / "file" / "models" / "m"))
    assert code == 3 and err.count("\n") == 1 and "Not a directory" in err
