"""`asr-server fetch-model` as a user (or a Job) runs it: progress on stdout, one line on
stderr for a failure, the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.fetch_cli import assert_fails, fetch_cli
from support.model_dirs import MODEL_FILES, tar_bytes, write_model


def test_fetch_then_a_rerun_that_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_model(tmp_path / "src")
    dest = tmp_path / "models" / "custom"
    run = fetch_cli(capsys, source.as_uri(), dest)
    assert (run.code, run.err) == (0, "")
    assert f"fetching {source.as_uri()} into {dest}" in run.out
    assert run.out.splitlines()[-1].startswith(f"model ready at {dest} (fetched: 4 files, 0.0 MB")
    again = fetch_cli(capsys, source.as_uri(), dest)
    assert again.code == 0
    assert again.out == f"model ready at {dest} (already there: 4 files, 0.0 MB)\n"


@pytest.mark.parametrize(
    ("uri", "code", "message"),
    [
        ("ftp://host/model.tgz", 2, "unsupported model URI scheme ftp:"),
        ("hf://openai", 2, "needs ORG/REPO"),
        ("s3:///key", 2, "needs a bucket"),
        ("file:///nonexistent/model", 3, "does not exist"),
    ],
)
def test_errors_are_one_line(
    uri: str, code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_fails(fetch_cli(capsys, uri, tmp_path / "dest"), code, message)


def test_a_hash_mismatch_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "model.tgz"
    archive.write_bytes(b"model")
    run = fetch_cli(capsys, archive.as_uri(), tmp_path / "d", "--sha256", "0" * 64)
    assert_fails(run, 4, "sha256 mismatch")


def test_the_size_limit_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "model.tar"
    archive.write_bytes(tar_bytes(MODEL_FILES))
    run = fetch_cli(capsys, archive.as_uri(), tmp_path / "d", "--max-size-gib", "1e-9")
    assert_fails(run, 4, "--max-size-gib")


def test_a_dest_that_cannot_be_created_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_model(tmp_path / "src")
    (tmp_path / "file").write_bytes(b"")
    run = fetch_cli(capsys, source.as_uri(), tmp_path / "file" / "models" / "m")
    assert_fails(run, 3, "Not a directory")
