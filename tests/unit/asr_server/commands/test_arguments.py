"""Bounded integer flags of the subcommands: passed as integers, a bad value exits 2 naming the
flag (streaming against a real server: integration/test_stream.py)."""

from __future__ import annotations

import pytest
from asr_server.__main__ import build_parser

BOUNDED = [  # command, option, its attribute, a good value, bad values, the bounds named
    ("stream", "--endpointing-ms", "endpointing_ms", 300, ["50", "5001", "0.3", "soon"],
     "100 to 5000"),
    ("stream", "--beam-size", "beam_size", 5, ["0", "11", "2.5", "wide"], "1 to 10"),
    ("transcribe", "--beam-size", "beam_size", 5, ["0", "11", "2.5", "wide"], "1 to 10"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "option", "attribute", "good", "bad", "bounds"), BOUNDED)
def test_a_bounded_option_is_passed_as_an_integer(
    command: str, option: str, attribute: str, good: int, bad: list[str], bounds: str
) -> None:
    parser = build_parser()
    assert getattr(parser.parse_args([command, "a.wav"]), attribute) is None
    assert getattr(parser.parse_args([command, "a.wav", option, str(good)]), attribute) == good


@pytest.mark.parametrize(
    ("command", "option", "value", "bounds"),
    [(c, option, value, bounds) for c, option, _, _, bad, bounds in BOUNDED for value in bad],
)
def test_a_bad_bounded_option_exits_2(
    command: str, option: str, value: str, bounds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command, "a.wav", option, value])
    assert exited.value.code == 2
    assert f"{option}: must be an integer from {bounds}" in capsys.readouterr().err
