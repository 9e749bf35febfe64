"""Converting the bundled CTranslate2 model into a PyTorch Whisper checkpoint: once, stamped,
redone when it no longer matches, in openai-whisper's format; a `.pt` path loads directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from asr_server.__main__ import main
from asr_server.engines.base import ModelError
from asr_server.engines.torch.convert import STAMP_FILE, ensure_converted, is_converted
from asr_server.engines.torch.engine import TorchEngineOptions, TorchWhisperEngine
from asr_server.engines.torch.resolve import resolve_checkpoint
from asr_server.engines.whisper.catalogue import resolve_model
from asr_server.types import TranscribeOptions

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return resolve_model("whisper-tiny.en", tmp_path_factory.mktemp("ct2"))


def test_the_catalogue_model_is_converted_once_and_stamped(
    torch_tiny: TorchWhisperEngine, torch_model_dir: Path, tiny_source: Path
) -> None:
    target = torch_model_dir / "torch" / "whisper-tiny.en"
    assert torch_tiny.info.path == str(target / "model.pt")
    stamp = json.loads((target / STAMP_FILE).read_text())
    assert stamp["source"]["size"] == (tiny_source / "model.bin").stat().st_size
    assert stamp["checkpoint"]["size"] == (target / "model.pt").stat().st_size
    assert len(stamp["source"]["sha256"]) == 64
    assert stamp["dims"]["n_vocab"] == 51864 and stamp["dims"]["n_text_layer"] == 4
    written = (target / "model.pt").stat().st_mtime_ns
    assert resolve_checkpoint("whisper-tiny.en", torch_model_dir).checkpoint == target / "model.pt"
    assert (target / "model.pt").stat().st_mtime_ns == written  # reused, not rewritten


def test_a_damaged_conversion_is_redone(tiny_source: Path, tmp_path: Path) -> None:
    checkpoint = ensure_converted(tiny_source, tmp_path)
    assert is_converted(tiny_source, tmp_path)
    with checkpoint.open("r+b") as handle:
        handle.truncate(1000)
    assert not is_converted(tiny_source, tmp_path)
    ensure_converted(tiny_source, tmp_path)
    assert is_converted(tiny_source, tmp_path)
    assert not list(tmp_path.glob(".model.pt.*"))  # no temporary file left behind


def test_a_conversion_prepared_at_build_time_is_read_where_it_lies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the torch image's build does it: `asr-server models --prepare --engine torch`.
    image, cache = tmp_path / "image", tmp_path / "cache"
    assert main(["models", "--prepare", "whisper-tiny.en", "--engine", "torch",
                 "--model-dir", str(image)]) == 0  # fmt: skip
    prepared = image / "torch" / "whisper-tiny.en" / "model.pt"
    assert capsys.readouterr().out.strip() == f"whisper-tiny.en: {prepared}"
    found = resolve_checkpoint("whisper-tiny.en", cache, prepared_dirs=(image,))
    assert found.checkpoint == prepared and found.tokenizer == prepared.parent / "tokenizer.json"
    assert not (cache / "torch").exists()  # nothing converted or written at start
    with prepared.open("r+b") as handle:  # a prepared copy that no longer matches its stamp
        handle.truncate(1000)
    found = resolve_checkpoint("whisper-tiny.en", cache, prepared_dirs=(image,))
    assert found.checkpoint == cache / "torch" / "whisper-tiny.en" / "model.pt"
    assert prepared.stat().st_size == 1000  # the image's copy is read, never written


def test_preparing_for_torch_names_a_model_outside_the_catalogue_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "models",
        "--prepare",
        "whisper-huge",
        "--engine",
        "torch",
        "--model-dir",
        str(tmp_path),
    ]
    assert main(argv) == 2
    assert "not in the catalogue" in capsys.readouterr().err


def test_the_checkpoint_is_in_openai_whispers_format(torch_tiny: TorchWhisperEngine) -> None:
    raw = torch.load(torch_tiny.info.path, map_location="cpu", weights_only=True, mmap=True)
    assert set(raw) == {"dims", "model_state_dict", "alignment_heads"}  # and ours, for words
    assert raw["dims"]["n_audio_state"] == 384
    source = resolve_model("whisper-tiny.en", torch_tiny.options.model_dir) / "config.json"
    assert raw["alignment_heads"] == json.loads(source.read_text())["alignment_heads"]
    state = raw["model_state_dict"]
    assert state["decoder.token_embedding.weight"].shape == (51864, 384)
    assert "decoder.blocks.3.cross_attn.key.weight" in state
    assert "decoder.blocks.3.cross_attn.key.bias" not in state  # Whisper's key has no bias
    assert state["encoder.positional_embedding"].shape == (1500, 384)


def test_a_pt_file_loads_with_the_bundled_tokenizer(
    torch_tiny: TorchWhisperEngine, tmp_path: Path, jfk_audio: np.ndarray
) -> None:
    """A user's own `.pt` (no tokenizer beside it) loads by path."""
    own = tmp_path / "my-whisper.pt"
    own.write_bytes(Path(torch_tiny.info.path).read_bytes())
    options = TorchEngineOptions(model=str(own), model_dir=tmp_path / "cache", cpu_threads=1)
    engine = TorchWhisperEngine(options)
    engine.load()
    assert engine.info.path == str(own)
    expected = torch_tiny.transcribe(jfk_audio, TranscribeOptions()).text
    assert engine.transcribe(jfk_audio, TranscribeOptions()).text == expected


def test_unknown_models_and_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model"):
        resolve_checkpoint(str(tmp_path / "nothing"), tmp_path)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    engine = TorchWhisperEngine(TorchEngineOptions(model=str(bad), model_dir=tmp_path))
    with pytest.raises(ModelError, match="not a readable PyTorch checkpoint"):
        engine.load()
    assert not engine.ready
