"""openai-whisper's checkpoint format: `{"dims": {...}, "model_state_dict": {...}}`.

This is what openai-whisper publishes and `whisper.load_model(path)` reads, so a user's own
`.pt` files load here and a converted catalogue model loads there. Reading uses
`torch.load(weights_only=True, mmap=True)`: no pickled code runs, and float32 weights are
mapped from the file instead of copied.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from asr_server.engines.base import ModelError

CHECKPOINT_FILE = "model.pt"
TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class ModelDimensions:
    """openai-whisper's `ModelDimensions` (the checkpoint's "dims")."""

    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int

    @classmethod
    def from_dict(cls, raw: Any) -> ModelDimensions:
        names = [f.name for f in fields(cls)]
        if not isinstance(raw, dict) or any(not isinstance(raw.get(n), int) for n in names):
            raise ModelError(f"checkpoint dims must have integer fields {', '.join(names)}")
        return cls(**{n: int(raw[n]) for n in names})

    @property
    def multilingual(self) -> bool:
        """openai-whisper's rule: the English-only models have 51864 tokens."""
        return self.n_vocab >= 51865


AlignmentHeads = tuple[tuple[int, int], ...]
"""(decoder layer, head) pairs whose cross-attention follows the audio in time (word timing)."""


def default_alignment_heads(dims: ModelDimensions) -> AlignmentHeads:
    """openai-whisper's choice for a model that names none: every head of the upper half of
    the decoder layers."""
    upper = range(dims.n_text_layer // 2, dims.n_text_layer)
    return tuple((layer, head) for layer in upper for head in range(dims.n_text_head))


def parse_alignment_heads(raw: Any, dims: ModelDimensions) -> AlignmentHeads:
    """`[[layer, head], ...]` (CTranslate2's config.json, a checkpoint's `alignment_heads`)
    checked against `dims`; absent or empty: `default_alignment_heads`."""
    if not raw:
        return default_alignment_heads(dims)
    try:
        heads = tuple((int(layer), int(head)) for layer, head in raw)
    except (TypeError, ValueError):
        raise ModelError(f"alignment_heads must be [layer, head] pairs; got {raw!r:.80}") from None
    for layer, head in heads:
        if not (0 <= layer < dims.n_text_layer and 0 <= head < dims.n_text_head):
            raise ModelError(
                f"alignment head ({layer}, {head}) is outside the decoder's "
                f"{dims.n_text_layer} layers of {dims.n_text_head} heads"
            )
    return heads


@dataclass(frozen=True)
class Checkpoint:
    dims: ModelDimensions
    state_dict: dict[str, torch.Tensor]
    path: Path
    alignment_heads: AlignmentHeads = ()


def save_checkpoint(
    dims: ModelDimensions,
    state_dict: dict[str, torch.Tensor],
    path: Path,
    alignment_heads: AlignmentHeads = (),
) -> None:
    """openai-whisper's two keys, and `alignment_heads` when known (whisper.load_model reads
    only its own keys, so the file still loads there)."""
    raw: dict[str, Any] = {"dims": asdict(dims), "model_state_dict": state_dict}
    if alignment_heads:
        raw["alignment_heads"] = [list(pair) for pair in alignment_heads]
    torch.save(raw, path)


def load_checkpoint(path: Path, mmap: bool = True) -> Checkpoint:
    """Read `path` (no code executed; mapped unless `mmap` is false: a file whose tensors are
    repacked at load, as int8 ones, is better read, so that each can be released); ModelError
    when it is not such a checkpoint."""
    try:
        with warnings.catch_warnings():  # torch's own rebuilding of int8 tensors warns so
            warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
            warnings.filterwarnings("ignore", message=".*quantized tensor creation functions")
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, ... for bad files
        raise ModelError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    if not isinstance(raw, dict) or "dims" not in raw or "model_state_dict" not in raw:
        raise ModelError(
            f"{path} is not an openai-whisper checkpoint "
            "(expected a dict with 'dims' and 'model_state_dict')"
        )
    state_dict = raw["model_state_dict"]
    if not isinstance(state_dict, dict):
        raise ModelError(f"{path}: 'model_state_dict' is not a mapping of tensors")
    dims = ModelDimensions.from_dict(raw["dims"])
    heads = parse_alignment_heads(raw.get("alignment_heads"), dims)
    return Checkpoint(dims, dict(state_dict), path, heads)
