"""Settings.from_env: defaults, parsing and errors naming the variable."""

from __future__ import annotations

import pytest
from asrfleet_operator.settings import Settings, SettingsError, env_table


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.inference_image == "ghcr.io/asrfleet/asr-server:0.1.0"
    assert s.torch_inference_image == "ghcr.io/asrfleet/asr-server:0.1.0-torch"
    assert s.inference_image_for("faster-whisper") == s.inference_image
    assert s.inference_image_for("torch") == s.torch_inference_image
    assert s.clusterwide and s.resync_seconds == 60 and s.health_port == 8081
    assert s.peering == ""


def test_values_from_env() -> None:
    s = Settings.from_env(
        {
            "ASRFLEET_NAMESPACES": "speech, asr ,",
            "ASRFLEET_RESYNC_SECONDS": "5",
            "ASRFLEET_PEERING": "asrfleet",
            "ASRFLEET_HEALTH_PORT": "0",
            "ASRFLEET_IMAGE_PULL_POLICY": "Always",
        }
    )
    assert s.namespaces == ("speech", "asr") and not s.clusterwide
    assert s.resync_seconds == 5.0 and s.peering == "asrfleet"
    assert s.health_port == 0 and s.image_pull_policy == "Always"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("ASRFLEET_RESYNC_SECONDS", "0"),
        ("ASRFLEET_RESYNC_SECONDS", "soon"),
        ("ASRFLEET_IMAGE_PULL_POLICY", "Sometimes"),
        ("ASRFLEET_LOG_FORMAT", "xml"),
        ("ASRFLEET_HEALTH_PORT", "70000"),
        ("ASRFLEET_NAMESPACES", "speech,asr-*"),
    ],
)
def test_bad_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        Settings.from_env({var: value})


def test_every_setting_is_documented() -> None:
    rows = env_table()
    assert len(rows) >= 7
    assert all(var.startswith("ASRFLEET_") and desc for var, _, desc in rows)
