"""The int8 checkpoint: quantised once from the float one, stamped, reused while the stamp
matches, quantised again when the float checkpoint, the torch version or the int8 file no longer
match; written beside a conversion in the cache, never beside a user's own `.pt`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from asr_server.engines.base import ModelError
from asr_server.engines.torch.checkpoint import load_checkpoint, save_checkpoint
from asr_server.engines.torch.int8_checkpoint import (
    INT8_CHECKPOINT_FILE,
    INT8_STAMP_FILE,
    ensure_quantized,
    int8_directory,
    is_quantized,
)
from asr_server.engines.torch.quantize import SCHEME, float_linear_layers, load_int8
from support.tiny_whisper import DIMS, tiny_whisper


@pytest.fixture
def float_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "torch" / "tiny" / "model.pt"
    path.parent.mkdir(parents=True)
    save_checkpoint(DIMS, dict(tiny_whisper().state_dict()), path)
    return path


def test_it_is_quantised_once_and_stamped(float_checkpoint: Path) -> None:
    target = float_checkpoint.parent
    int8 = ensure_quantized(float_checkpoint, target)
    assert int8 == target / INT8_CHECKPOINT_FILE
    stamp = json.loads((target / INT8_STAMP_FILE).read_text())
    assert stamp["source"]["size"] == float_checkpoint.stat().st_size
    assert len(stamp["source"]["sha256"]) == 64
    assert stamp["checkpoint"]["size"] == int8.stat().st_size
    assert stamp["torch"] == torch.__version__ and stamp["scheme"] == SCHEME
    written = int8.stat().st_mtime_ns
    assert ensure_quantized(float_checkpoint, target) == int8
    assert int8.stat().st_mtime_ns == written  # reused, not rewritten
    checkpoint = load_checkpoint(int8, mmap=False)
    assert float_linear_layers(load_int8(checkpoint.dims, checkpoint.state_dict)) == []
    assert not list(target.glob(".*"))  # no temporary file left behind


def test_a_damaged_int8_file_is_quantised_again(float_checkpoint: Path) -> None:
    target = float_checkpoint.parent
    int8 = ensure_quantized(float_checkpoint, target)
    with int8.open("r+b") as handle:
        handle.truncate(1000)
    assert not is_quantized(float_checkpoint, target)
    ensure_quantized(float_checkpoint, target)
    assert is_quantized(float_checkpoint, target)
    checkpoint = load_checkpoint(int8, mmap=False)
    load_int8(checkpoint.dims, checkpoint.state_dict)


def test_a_changed_float_checkpoint_or_torch_is_quantised_again(float_checkpoint: Path) -> None:
    target = float_checkpoint.parent
    ensure_quantized(float_checkpoint, target)
    stamp_file = target / INT8_STAMP_FILE
    stamp = json.loads(stamp_file.read_text())
    stamp_file.write_text(json.dumps({**stamp, "torch": "2.12.0"}))
    assert not is_quantized(float_checkpoint, target)
    stamp_file.write_text(json.dumps(stamp))
    assert is_quantized(float_checkpoint, target)
    # Same size, other weights: the hash tells.
    save_checkpoint(DIMS, dict(tiny_whisper(seed=7).state_dict()), float_checkpoint)
    assert float_checkpoint.stat().st_size == stamp["source"]["size"]
    assert not is_quantized(float_checkpoint, target)
    ensure_quantized(float_checkpoint, target)
    assert json.loads(stamp_file.read_text())["source"]["sha256"] != stamp["source"]["sha256"]


def test_a_corrupt_stamp_is_not_trusted(float_checkpoint: Path) -> None:
    target = float_checkpoint.parent
    ensure_quantized(float_checkpoint, target)
    (target / INT8_STAMP_FILE).write_text("{not json")
    assert not is_quantized(float_checkpoint, target)
    (target / INT8_STAMP_FILE).write_text(json.dumps({"format": 1, "source": "x"}))
    assert not is_quantized(float_checkpoint, target)


def test_a_float_checkpoint_that_is_no_whisper_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a readable PyTorch checkpoint"):
        ensure_quantized(bad, tmp_path / "int8")
    assert not (tmp_path / "int8" / INT8_CHECKPOINT_FILE).exists()


def test_where_the_int8_file_goes(float_checkpoint: Path, tmp_path: Path) -> None:
    cache = tmp_path / "torch"
    assert int8_directory(float_checkpoint, cache) == float_checkpoint.parent
    own = tmp_path / "elsewhere" / "mine.pt"
    outside = int8_directory(own, cache)
    assert outside.parent == cache and outside.name.startswith("mine-")
    assert outside.name.endswith("-int8")
    assert int8_directory(tmp_path / "other" / "mine.pt", cache) != outside  # per path
    assert int8_directory(tmp_path / "dir" / "model.pt", cache).name.startswith("dir-")
