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
