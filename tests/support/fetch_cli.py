"""`asr-server fetch-model` run in-process as a user or a Job runs it, and the checks every
failure must pass: the exit code, one line on stderr, no secret."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from asr_server.__main__ import main


@dataclass(frozen=True)
class FetchRun:
    code: int
    out: str
    err: str


def fetch_cli(capsys: pytest.CaptureFixture[str], uri: str, dest: Path, *flags: str) -> FetchRun:
    code = main(["fetch-model", uri, str(dest), *flags])
    out, err = capsys.readouterr()
    return FetchRun(code, out, err)


def assert_fails(run: FetchRun, code: int, pattern: str, *secrets: str) -> None:
    """Exit `code`, one line on stderr matching `pattern`, none of `secrets` printed."""
    assert run.code == code, run.err
    assert run.err.startswith("asr-server fetch-model: ") and run.err.count("\n") == 1, run.err
    assert re.search(pattern, run.err), run.err
    for secret in secrets:
        assert secret not in run.out + run.err
