"""`asr-server stream` arguments (streaming against a real server: integration/test_stream.py)."""

from __future__ import annotations

import pytest
from asr_server.__main__ import build_parser


def test_endpointing_ms_is_passed_as_an_integer() -> None:
    parser = build_parser()
    assert parser.parse_args(["stream", "a.wav"]).endpointing_ms is None
    assert parser.parse_args(["stream", "a.wav", "--endpointing-ms", "300"]).endpointing_ms == 300


@pytest.mark.parametrize("value", ["50", "5001", "0.3", "soon"])
def test_bad_endpointing_ms_exits_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["stream", "a.wav", "--endpointing-ms", value])
    assert exited.value.code == 2
    assert "--endpointing-ms: must be an integer from 100 to 5000" in capsys.readouterr().err


def test_beam_size_is_passed_as_an_integer() -> None:
    parser = build_parser()
    assert parser.parse_args(["stream", "a.wav"]).beam_size is None
    assert parser.parse_args(["stream", "a.wav", "--beam-size", "5"]).beam_size == 5


@pytest.mark.parametrize("value", ["0", "11", "2.5", "wide"])
def test_bad_beam_size_exits_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["stream", "a.wav", "--beam-size", value])
    assert exited.value.code == 2
    assert "--beam-size: must be an integer from 1 to 10" in capsys.readouterr().err
