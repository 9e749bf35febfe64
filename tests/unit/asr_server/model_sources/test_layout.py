"""Which files make a model: selection by the engine's patterns and the required check."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_server import contract
from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.layout import LAYOUTS, model_root

CT2 = LAYOUTS["faster-whisper"]


def test_selects_the_engines_files_at_the_top_level_only() -> None:
    names = [
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.json",
        "preprocessor_config.json",
        "pytorch_model.bin",
        "README.md",
        "onnx/model.bin",
        "vocabulary.d/x",
    ]
    assert CT2.select(names) == [
        "config.json",
        "model.bin",
        "preprocessor_config.json",
        "tokenizer.json",
        "vocabulary.json",
    ]


def test_a_model_without_its_tokenizer_is_refused() -> None:
    with pytest.raises(FetchError, match=r"s3://b/m/ has no tokenizer\.json") as caught:
        CT2.check(["model.bin", "config.json", "vocabulary.txt"], "s3://b/m/")
    assert caught.value.exit_code == ExitCode.INVALID
    CT2.check(["model.bin", "config.json", "tokenizer.json", "vocabulary.txt"], "x")


def test_model_root_unwraps_one_folder(tmp_path: Path) -> None:
    (tmp_path / "whisper-x").mkdir()
    (tmp_path / "whisper-x" / "model.bin").write_bytes(b"m")
    assert model_root(tmp_path) == tmp_path / "whisper-x"
    (tmp_path / "model.bin").write_bytes(b"m")
    assert model_root(tmp_path) == tmp_path


def test_every_engine_the_contract_admits_has_a_layout() -> None:
    """A SpeechModel's download Job runs `fetch-model --engine ENGINE` for each of them."""
    assert set(LAYOUTS) == set(contract.ENGINES)
    assert LAYOUTS["torch"] == CT2  # converted at load (engines/torch/convert.py)
