"""fetch-model's settings from the environment and flags."""

from __future__ import annotations

import pytest
from asr_server.model_sources import ExitCode, FetchError, FetchSettings


def test_from_the_environment_with_flags_on_top() -> None:
    settings = FetchSettings.from_env(
        {
            "HF_ENDPOINT": "http://mirror.internal:8080/",
            "HF_TOKEN": "hf_secret",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "ASR_S3_ADDRESSING_STYLE": "path",
        },
        timeout_s=5.0,
        engine=None,
    )
    assert settings.hf_endpoint == "http://mirror.internal:8080"
    assert (settings.hf_token, settings.s3_region, settings.s3_addressing_style) == (
        "hf_secret",
        "eu-west-1",
        "path",
    )
    assert (settings.timeout_s, settings.engine) == (5.0, "faster-whisper")
    assert "hf_secret" not in repr(settings)


def test_defaults() -> None:
    settings = FetchSettings.from_env({})
    assert settings.hf_endpoint == "https://huggingface.co"
    assert settings.hf_token is None and settings.s3_region is None
    assert FetchSettings.from_env({"AWS_REGION": "a", "AWS_DEFAULT_REGION": "b"}).s3_region == "a"


@pytest.mark.parametrize(
    ("environ", "flags", "message"),
    [
        ({"ASR_S3_ADDRESSING_STYLE": "dns"}, {}, "ASR_S3_ADDRESSING_STYLE must be one of"),
        ({}, {"engine": "onnx"}, "unknown engine 'onnx'"),
        ({}, {"max_bytes": 0}, "must be positive"),
    ],
)
def test_bad_settings_exit_2(
    environ: dict[str, str], flags: dict[str, object], message: str
) -> None:
    with pytest.raises(FetchError, match=message) as caught:
        FetchSettings.from_env(environ, **flags)
    assert caught.value.exit_code == ExitCode.USAGE
