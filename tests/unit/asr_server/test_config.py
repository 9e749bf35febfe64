"""ServerConfig from ASR_* env and `serve` flags (flags win); bad values are one-line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from asr_server.__main__ import build_parser, main
from asr_server.commands.serve import load_config
from asr_server.config import ConfigError, ServerConfig, env_names


def test_env_values_are_parsed_into_typed_fields() -> None:
    config = ServerConfig.from_env(
        {
            "ASR_MODEL": "whisper-base",
            "ASR_MODEL_DIR": "/models",
            "ASR_PORT": "9000",
            "ASR_MAX_QUEUE": "3",
            "ASR_REQUEST_TIMEOUT_S": "2.5",
            "ASR_BATCH_MAX_WAIT_MS": "20",
            "ASR_API_KEY": "s3cret",
            "ASR_LANGUAGE": "zh",
            "ASR_LOG_FORMAT": "json",
            "UNRELATED": "x",
        }
    )
    assert config.model == "whisper-base"
    assert config.model_dir == Path("/models")
    assert (config.port, config.max_queue) == (9000, 3)
    assert (config.request_timeout_s, config.batch_max_wait_ms) == (2.5, 20.0)
    assert (config.api_key, config.language, config.log_format) == ("s3cret", "zh", "json")
    assert "s3cret" not in repr(config)  # the key never reaches logs through repr


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ASR_PORT": "eighty"}, "ASR_PORT"),
        ({"ASR_MAX_QUEUE": "-1"}, "ASR_MAX_QUEUE"),
        ({"ASR_DEVICE": "tpu"}, "ASR_DEVICE"),
        ({"ASR_ENCODER_CONTEXT": "half"}, "ASR_ENCODER_CONTEXT"),
        ({"ASR_CPU_LAYOUT": "threads"}, "ASR_CPU_LAYOUT"),
        ({"ASR_REQUEST_TIMEOUT_S": "0"}, "ASR_REQUEST_TIMEOUT_S"),
        ({"ASR_STREAM_ENDPOINT_SILENCE_MS": "50"}, "ASR_STREAM_ENDPOINT_SILENCE_MS must be 100"),
        ({"ASR_STREAM_ENDPOINT_SILENCE_MS": "5001"}, "ASR_STREAM_ENDPOINT_SILENCE_MS"),
        ({"ASR_STREAM_ENDPOINT_SILENCE_MS": "0.3"}, "ASR_STREAM_ENDPOINT_SILENCE_MS='0.3'"),
        ({"ASR_HOTWORD_MODE": "graph"}, "ASR_HOTWORD_MODE must be one of decoder, prompt, both"),
        ({"ASR_HOTWORD_SCORE": "0"}, "ASR_HOTWORD_SCORE must be > 0 and <= 10, got 0.0"),
        ({"ASR_HOTWORD_SCORE": "10.5"}, "ASR_HOTWORD_SCORE must be > 0"),
        ({"ASR_HOTWORD_SCORE": "nan"}, "ASR_HOTWORD_SCORE must be > 0"),
        ({"ASR_HOTWORD_SCORE": "strong"}, "ASR_HOTWORD_SCORE='strong' is not valid"),
        ({"ASR_BEAM_SIZE": "0"}, "ASR_BEAM_SIZE must be 1-10"),
        ({"ASR_BEAM_SIZE": "11"}, "ASR_BEAM_SIZE"),
        ({"ASR_DEVICE": "cpu", "ASR_COMPUTE_TYPE": "float16"}, "ASR_COMPUTE_TYPE float16 needs"),
        ({"ASR_MAX_BODIES_MB": "10"}, r"ASR_MAX_BODIES_MB must be at least ASR_MAX_BODY_MB \(25\)"),
        ({"ASR_MAX_BODIES_MB": "nan"}, "ASR_MAX_BODIES_MB must be at least"),
        ({"ASR_TORCH_CPU_THREADS": "-1"}, r"ASR_TORCH_CPU_THREADS must be >= 0 \(0: automatic\)"),
        ({"ASR_TORCH_DECODE_THREADS": "two"}, "ASR_TORCH_DECODE_THREADS='two' is not valid"),
        ({"ASR_TORCH_SEED": "1.5"}, "ASR_TORCH_SEED='1.5' is not valid"),
    ],
)
def test_invalid_env_names_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        ServerConfig.from_env(env)


def test_every_field_has_a_serve_flag_and_flags_win_over_env() -> None:
    parser = build_parser()
    args = parser.parse_args(["serve", "--max-queue", "7", "--port", "8181", "--engine", "fake"])
    config = load_config(args, {"ASR_MAX_QUEUE": "99", "ASR_CACHE_ENTRIES": "5"})
    assert (config.max_queue, config.port, config.engine) == (7, 8181, "fake")
    assert config.cache_entries == 5  # env still applies where no flag is given
    defaults = vars(parser.parse_args(["serve"]))
    assert {f.name for f in dataclasses.fields(ServerConfig)} <= defaults.keys()
    assert len(env_names()) == len(dataclasses.fields(ServerConfig))


def test_invalid_flag_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--max-queue", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "ASR_MAX_QUEUE" in err


def test_the_body_budget_defaults_to_512_mb_or_one_body_when_that_is_larger() -> None:
    assert ServerConfig.from_env({}).bodies_budget_mb == 512
    assert ServerConfig.from_env({"ASR_MAX_BODY_MB": "1000"}).bodies_budget_mb == 1000
    assert ServerConfig.from_env({"ASR_MAX_BODIES_MB": "64"}).bodies_budget_mb == 64
