"""The int8 checkpoint: a float checkpoint quantised once, written and verified in the cache.

Quantising needs the float32 model in memory, so an int8 server that quantised at every start
would peak above its float32 one. Instead the first int8 start writes `model.int8.pt`
(quantize.int8_state_dict: openai's parameter names holding int8 tensors, in openai's
`{"dims", "model_state_dict"}` layout) and `quantization.json` (a stamp: the float checkpoint's
size and SHA-256, the int8 file's size and SHA-256, the quantisation scheme and the torch
version, whose quantised tensor format it is) beside the float conversion, each through a
temporary file and a rename as convert.py does. Later starts read the int8 file alone and never
build the float model. A stamp that no longer matches (another float checkpoint, another torch,
a truncated file) makes it quantise again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path

import torch

from asr_server.engines.torch.checkpoint import (
    CHECKPOINT_FILE,
    ModelDimensions,
    load_checkpoint,
    save_checkpoint,
)
from asr_server.engines.torch.convert import stamp_matches, write_stamp
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.quantize import SCHEME, int8_state_dict, quantize
from asr_server.engines.whisper.catalogue import atomic_write

log = logging.getLogger(__name__)

INT8_CHECKPOINT_FILE = "model.int8.pt"
INT8_STAMP_FILE = "quantization.json"
INT8_FORMAT = 1
"""Bumped when the int8 file's content changes, so older ones are quantised again."""


def int8_directory(float_checkpoint: Path, torch_cache: Path) -> Path:
    """Where the int8 form of `float_checkpoint` lives: beside it when it is a conversion in
    the cache's `torch_cache` directory, else in `torch_cache/<name>-<hash of its path>/` (a
    user's own `.pt` is never written beside)."""
    path = float_checkpoint.resolve()
    if path.parent.is_relative_to(torch_cache.resolve()):
        return path.parent
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = path.parent.name if path.name == CHECKPOINT_FILE else path.stem
    return torch_cache / f"{name}-{digest}-int8"


def ensure_quantized(float_checkpoint: Path, target: Path) -> Path:
    """The int8 checkpoint of `float_checkpoint` in `target`: reused when its stamp matches,
    quantised (and stamped) otherwise."""
    if is_quantized(float_checkpoint, target):
        return target / INT8_CHECKPOINT_FILE
    return quantize_checkpoint(float_checkpoint, target)


def is_quantized(float_checkpoint: Path, target: Path) -> bool:
    return stamp_matches(
        target / INT8_STAMP_FILE,
        float_checkpoint,
        target / INT8_CHECKPOINT_FILE,
        format=INT8_FORMAT,
        scheme=SCHEME,
        torch=torch.__version__,
    )


def quantize_checkpoint(float_checkpoint: Path, target: Path) -> Path:
    """Quantise `float_checkpoint` into `target` (ModelError when it is no Whisper)."""
    checkpoint = load_checkpoint(float_checkpoint)
    log.info("quantising %s to int8 into %s (once)", float_checkpoint, target)
    model = quantize(Whisper.from_state_dict(checkpoint.dims, checkpoint.state_dict).float())
    state = int8_state_dict(model)
    target.mkdir(parents=True, exist_ok=True)
    dims: ModelDimensions = checkpoint.dims
    heads = checkpoint.alignment_heads
    atomic_write(
        target / INT8_CHECKPOINT_FILE, lambda out: save_checkpoint(dims, state, out, heads)
    )
    write_stamp(
        target / INT8_STAMP_FILE, float_checkpoint, target / INT8_CHECKPOINT_FILE,
        format=INT8_FORMAT, scheme=SCHEME, torch=torch.__version__, dims=asdict(dims),
    )  # fmt: skip
    return target / INT8_CHECKPOINT_FILE
