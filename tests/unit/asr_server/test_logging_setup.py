from __future__ import annotations

import json
import logging

import pytest
from asr_server.logging_setup import JsonFormatter, TextFormatter, configure_logging


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("asr_server.request", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_extra_fields_at_top_level() -> None:
    line = JsonFormatter().format(_record(request_id="r1", route="/v1/recognize", rtf=0.1))
    entry = json.loads(line)
    assert entry["message"] == "request" and entry["level"] == "info"
    assert (entry["request_id"], entry["route"], entry["rtf"]) == ("r1", "/v1/recognize", 0.1)
    assert entry["time"].endswith("+00:00")


def test_text_lines_append_extras() -> None:
    line = TextFormatter().format(_record(request_id="r2", status=200))
    assert line.endswith("request request_id=r2 status=200")


@pytest.mark.parametrize(("fmt", "formatter"), [("json", JsonFormatter), ("text", TextFormatter)])
def test_configure_installs_one_handler(fmt: str, formatter: type[logging.Formatter]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging(fmt)
        configure_logging(fmt)
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, formatter)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
