"""The torch engine's settings: what a ServerConfig implies, what is refused, and which device
and precision a request for `auto` (or an impossible combination) comes to."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_server.config import ServerConfig
from asr_server.engines.base import ModelError
from asr_server.engines.torch.engine import (
    TorchEngineOptions,
    TorchWhisperEngine,
    choose_precision,
    decode_threads,
)


def test_options_follow_the_server_config() -> None:
    config = ServerConfig(
        model="whisper-base", model_dir=Path("/cache"), compute_type="int8",
        output_script="traditional", batch_max_size=3, encoder_context="trimmed",
    )  # fmt: skip
    options = TorchEngineOptions.from_server_config(config, hotword_score=3.0)
    assert (options.model, options.model_dir, options.compute_type) == (
        "whisper-base", Path("/cache"), "int8",
    )  # fmt: skip
    assert (options.output_script, options.batch_max_size, options.encoder_context) == (
        "traditional", 3, "trimmed",
    )  # fmt: skip
    assert options.hotword_score == 3.0 and options.hotword_mode == "decoder"


def test_the_hotword_settings_come_from_the_server_environment() -> None:
    config = ServerConfig.from_env({"ASR_HOTWORD_MODE": "both", "ASR_HOTWORD_SCORE": "2.5"})
    options = TorchEngineOptions.from_server_config(config)
    assert (options.hotword_mode, options.hotword_score) == ("both", 2.5)
    defaults = TorchEngineOptions.from_server_config(ServerConfig())
    assert (defaults.hotword_mode, defaults.hotword_score) == ("decoder", 4.0)


def test_the_thread_and_seed_settings_come_from_the_server_environment() -> None:
    env = {"ASR_TORCH_CPU_THREADS": "3", "ASR_TORCH_DECODE_THREADS": "1", "ASR_TORCH_SEED": "7"}
    options = TorchEngineOptions.from_server_config(ServerConfig.from_env(env))
    assert (options.cpu_threads, options.decode_threads, options.seed) == (3, 1, 7)
    defaults = TorchEngineOptions.from_server_config(ServerConfig.from_env({}))
    assert (defaults.cpu_threads, defaults.decode_threads, defaults.seed) == (0, 0, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"compute_type": "int8_float16"},
        {"device": "tpu"},
        {"hotword_mode": "loud"},
        {"hotword_score": 0.0},
        {"hotword_score": 11.0},
        {"cpu_threads": -1},
        {"decode_threads": -1},
        {"encoder_context": "half"},
    ],
)
def test_bad_options_are_refused_with_the_setting_named(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(fields))):
        TorchEngineOptions(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("device", "compute_type", "cuda", "expected"),
    [
        ("auto", "auto", False, ("cpu", "float32")),
        ("auto", "auto", True, ("cuda", "float16")),
        ("cpu", "int8_float32", False, ("cpu", "int8")),
        ("cuda", "float32", True, ("cuda", "float32")),
    ],
)
def test_auto_and_aliases(
    device: str, compute_type: str, cuda: bool, expected: tuple[str, str]
) -> None:
    assert choose_precision(device, compute_type, cuda) == expected


@pytest.mark.parametrize(
    ("device", "compute_type", "cuda", "message"),
    [
        ("cuda", "auto", False, "no CUDA device"),
        ("cuda", "int8", True, "CPU only"),
        ("cpu", "float16", False, "needs a CUDA device"),
    ],
)
def test_impossible_combinations_fail_the_load(
    device: str, compute_type: str, cuda: bool, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        choose_precision(device, compute_type, cuda)


def test_an_engine_is_not_ready_before_it_loads() -> None:
    engine = TorchWhisperEngine(TorchEngineOptions())
    assert not engine.ready
    assert (engine.info.engine, engine.info.name) == ("torch", "whisper-tiny.en")
    with pytest.raises(RuntimeError, match="before load"):
        engine.transcribe_batch([])


def test_the_package_factory_builds_an_unloaded_engine_from_server_settings() -> None:
    from asr_server.engines import torch as torch_engine

    engine = torch_engine.create(ServerConfig(model="whisper-base", compute_type="int8"))
    assert isinstance(engine, TorchWhisperEngine) and not engine.ready
    assert (engine.options.model, engine.options.compute_type) == ("whisper-base", "int8")


def test_int8_decodes_on_one_thread_unless_told() -> None:
    """int8's kernels split every one-row product across all threads (docs/models.md)."""
    default = TorchEngineOptions()
    assert decode_threads(default, "cpu", "int8", 2) == 1
    assert decode_threads(default, "cpu", "float32", 2) == 2
    assert decode_threads(TorchEngineOptions(decode_threads=2), "cpu", "int8", 2) == 2
    assert decode_threads(default, "cuda", "float16", 0) == 0
