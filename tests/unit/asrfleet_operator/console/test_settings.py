"""Console settings from ASRFLEET_CONSOLE_* env; each a documented field."""

from __future__ import annotations

import dataclasses

import pytest
from asrfleet_operator.console.settings import ConsoleSettings, ConsoleSettingsError
from asrfleet_operator.settings import env_table

TOKEN = {"ASRFLEET_CONSOLE_TOKEN": "a" * 32}


def test_from_env_parses_every_kind_and_flags_win() -> None:
    env = {**TOKEN, "ASRFLEET_CONSOLE_READ_ONLY": "true", "ASRFLEET_CONSOLE_NAMESPACES": "a, b",
           "ASRFLEET_CONSOLE_SCRAPE_SECONDS": "2.5", "ASRFLEET_CONSOLE_PORT": "9000"}  # fmt: skip
    settings = ConsoleSettings.from_env(env, port=9100, host=None)
    assert settings.read_only and settings.namespaces == ("a", "b")
    assert settings.scrape_seconds == 2.5 and settings.port == 9100
    assert settings.history_points == 360  # 15 minutes of 2.5 s rounds


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "ASRFLEET_CONSOLE_TOKEN must be set"),
        ({"ASRFLEET_CONSOLE_TOKEN": "short"}, "at least 16"),
        ({**TOKEN, "ASRFLEET_CONSOLE_READ_ONLY": "maybe"}, "ASRFLEET_CONSOLE_READ_ONLY"),
        ({**TOKEN, "ASRFLEET_CONSOLE_PORT": "70000"}, "0-65535"),
        ({**TOKEN, "ASRFLEET_CONSOLE_SCRAPE_SECONDS": "0"}, "must be > 0"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConsoleSettingsError, match=message):
        ConsoleSettings.from_env(env)


def test_every_field_has_a_variable_and_a_doc_line() -> None:
    rows = env_table(ConsoleSettings)
    assert len(rows) == len(dataclasses.fields(ConsoleSettings))
    assert all(var.startswith("ASRFLEET_CONSOLE_") and desc for var, _, desc in rows)


def test_the_token_is_not_in_the_repr() -> None:
    assert "a" * 32 not in repr(ConsoleSettings.from_env(TOKEN))


def test_docs_list_every_setting() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[4] / "docs" / "console.md").read_text()
    assert all(f"`{var}`" in docs for var, _, _ in env_table(ConsoleSettings))
