"""Which PyTorch Whisper checkpoint and tokenizer a model name means for the torch engine.

- A catalogue name (`whisper-tiny.en`, `whisper-base`): its bundled CTranslate2 package (as
  `engines/whisper/catalogue.py` resolves it), converted once into `<model cache>/torch/<name>/`,
  unless the image's prepared models (`ASR_BUNDLED_MODEL_DIR/torch/<name>/`, written at build
  time by `asr-server models --prepare --engine torch`) hold its conversion, stamped from
  exactly that source: then that one is read where it lies.
- A CTranslate2 Whisper directory (has `model.bin`): converted likewise, into
  `<model cache>/torch/<dir name>-<hash of its path>/`.
- A `.pt` file, or a directory holding `model.pt`: used as it is.

int8 loads the checkpoint's int8 form (`model.int8.pt`), quantised once beside a conversion in
the cache, or, for a checkpoint outside it (the image's prepared conversion, a `.pt` of the
user's), into `<model cache>/torch/<name>-<hash of its path>-int8/`.

The tokenizer is the `tokenizer.json` beside the checkpoint or, failing that, the bundled
packages' tokenizer for the checkpoint's vocabulary size (51864 tokens: the English-only
models; 51865: the multilingual ones up to large-v2), so openai's own `.pt` files need no
download either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asr_server.engines.base import ModelError
from asr_server.engines.torch.checkpoint import CHECKPOINT_FILE, TOKENIZER_FILE, ModelDimensions
from asr_server.engines.torch.convert import ConversionError, ensure_converted, is_converted
from asr_server.engines.torch.int8_checkpoint import ensure_quantized, int8_directory
from asr_server.engines.whisper.catalogue import BUNDLED_MODEL_DIR, CATALOGUE, resolve_model

CACHE_SUBDIR = "torch"
"""Converted checkpoints live in `<model cache>/torch/`, apart from the CTranslate2 copies."""
VOCAB_TOKENIZERS = {51864: "whisper-tiny.en", 51865: "whisper-base"}
"""Vocabulary size -> the catalogue model whose tokenizer.json decodes it."""


@dataclass(frozen=True)
class CheckpointSource:
    """Where a model name leads, after any conversion."""

    checkpoint: Path
    tokenizer: Path | None
    """tokenizer.json beside the checkpoint, when there is one (else see `tokenizer_for`)."""


def resolve_checkpoint(
    name_or_path: str, cache_dir: Path, *, prepared_dirs: Sequence[Path] = (BUNDLED_MODEL_DIR,)
) -> CheckpointSource:
    """The checkpoint `name_or_path` means, converting a CTranslate2 model once if needed (a
    catalogue model's conversion in one of `prepared_dirs` is used as it is). ModelError when
    it names nothing loadable or the conversion is refused."""
    path = Path(name_or_path).expanduser()
    if name_or_path in CATALOGUE:
        source = resolve_model(name_or_path, cache_dir)
        for prepared in (d / CACHE_SUBDIR / name_or_path for d in prepared_dirs):
            if is_converted(source, prepared):
                return CheckpointSource(
                    prepared / CHECKPOINT_FILE, _beside(prepared / CHECKPOINT_FILE)
                )
        target = cache_dir / CACHE_SUBDIR / name_or_path
    elif path.is_file() and path.suffix == ".pt":
        return CheckpointSource(path, _beside(path))
    elif (path / CHECKPOINT_FILE).is_file():
        return CheckpointSource(path / CHECKPOINT_FILE, _beside(path / CHECKPOINT_FILE))
    elif (path / "model.bin").is_file():
        source = path
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        target = cache_dir / CACHE_SUBDIR / f"{path.name}-{digest}"
    else:
        raise ModelError(
            f"unknown model {name_or_path!r}: not a catalogue name ({', '.join(CATALOGUE)}), "
            "a PyTorch Whisper checkpoint (.pt, or a directory with model.pt) nor a "
            "CTranslate2 Whisper directory (model.bin)"
        )
    try:
        checkpoint = ensure_converted(source, target)
    except ConversionError as exc:
        raise ModelError(str(exc)) from None
    return CheckpointSource(checkpoint, _beside(checkpoint))


def resolve_int8(source: CheckpointSource, cache_dir: Path) -> Path:
    """The int8 checkpoint of `source`, quantised once into the cache (int8_checkpoint.py)."""
    return ensure_quantized(
        source.checkpoint, int8_directory(source.checkpoint, cache_dir / CACHE_SUBDIR)
    )


def tokenizer_for(source: CheckpointSource, dims: ModelDimensions, cache_dir: Path) -> Path:
    """The tokenizer.json that decodes this checkpoint's tokens."""
    if source.tokenizer is not None:
        return source.tokenizer
    name = VOCAB_TOKENIZERS.get(dims.n_vocab)
    if name is None:
        raise ModelError(
            f"no tokenizer for a {dims.n_vocab}-token Whisper vocabulary: put its "
            f"{TOKENIZER_FILE} beside {source.checkpoint}"
        )
    return resolve_model(name, cache_dir) / TOKENIZER_FILE


def _beside(checkpoint: Path) -> Path | None:
    candidate = checkpoint.parent / TOKENIZER_FILE
    return candidate if candidate.is_file() else None
