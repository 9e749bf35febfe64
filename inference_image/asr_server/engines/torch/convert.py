"""Convert a CTranslate2 Whisper directory into a PyTorch Whisper checkpoint, once, verified.

The bundled catalogue models are CTranslate2 packages holding float16 weights; the torch
engine needs openai-whisper's checkpoint format (`{"dims": ..., "model_state_dict": ...}` with
openai-whisper's parameter names), which `whisper.load_model(path)` also reads. The mapping is
lossless: CTranslate2 fuses the attention projections (self-attention q|k|v, cross-attention
k|v) and stores a zero key bias that openai-whisper has no parameter for. A key bias adds
q.b to every attention logit of a query alike, which softmax cancels, so dropping it changes
nothing. Weights are stored as float32 (float16 widens exactly) so that loading can map the
file instead of copying it.

`convert_directory` writes `model.pt` (with the alignment heads CTranslate2's `config.json`
names, for word timings), the Hugging Face `tokenizer.json` and `conversion.json`
(a stamp: the source's size and SHA-256, the checkpoint's size and SHA-256, the dimensions)
into a directory of the model cache, each through a temporary file and a rename, so a crash
or a concurrent converter never leaves a half-written file under its final name.
`ensure_converted` reuses a directory whose stamp matches the source and whose checkpoint has
the stamped size, and converts otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from asr_server.engines.base import ModelError
from asr_server.engines.torch.checkpoint import (
    CHECKPOINT_FILE,
    TOKENIZER_FILE,
    AlignmentHeads,
    ModelDimensions,
    parse_alignment_heads,
    save_checkpoint,
)
from asr_server.engines.torch.ct2_format import CT2FormatError, CT2Model, read_model
from asr_server.engines.whisper.catalogue import atomic_write

log = logging.getLogger(__name__)

STAMP_FILE = "conversion.json"
STAMP_FORMAT = 2
"""Bumped when the conversion changes, so older converted copies are redone (2: the
checkpoint carries the model's alignment heads)."""
WHISPER_SPEC = "WhisperSpec"
GELU = 3
"""CTranslate2's `Activation.GELU` (exact erf GELU, as Whisper uses)."""
LOSSLESS_DTYPES = frozenset({np.dtype("float16"), np.dtype("float32")})

_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")


class ConversionError(ValueError):
    """A CTranslate2 model this converter cannot turn into a PyTorch Whisper checkpoint."""


def convert_directory(source: Path, target: Path) -> Path:
    """Convert the CTranslate2 Whisper in `source` into `target`; returns the checkpoint."""
    model_bin = source / "model.bin"
    tokenizer = source / TOKENIZER_FILE
    if not model_bin.is_file():
        raise ConversionError(f"{source} has no model.bin (not a CTranslate2 model)")
    if not tokenizer.is_file():
        raise ConversionError(f"{source} has no {TOKENIZER_FILE} (needed to decode Whisper tokens)")
    try:
        model = read_model(model_bin)
    except CT2FormatError as exc:
        raise ConversionError(str(exc)) from None
    dims, state_dict = whisper_state_dict(model, str(model_bin))
    heads = alignment_heads(source / "config.json", dims)
    target.mkdir(parents=True, exist_ok=True)
    log.info("converting %s into a PyTorch Whisper checkpoint in %s", source, target)
    atomic_write(
        target / CHECKPOINT_FILE, lambda out: save_checkpoint(dims, state_dict, out, heads)
    )
    atomic_write(target / TOKENIZER_FILE, functools.partial(_copy, tokenizer))
    write_stamp(
        target / STAMP_FILE, model_bin, target / CHECKPOINT_FILE,
        format=STAMP_FORMAT, dims=asdict(dims),
    )  # fmt: skip
    return target / CHECKPOINT_FILE


def alignment_heads(config: Path, dims: ModelDimensions) -> AlignmentHeads:
    """The alignment heads CTranslate2's `config.json` names (the converter copies them from
    the original model), else openai-whisper's default."""
    try:
        raw = json.loads(config.read_text()).get("alignment_heads") if config.is_file() else None
        return parse_alignment_heads(raw, dims)
    except (OSError, ValueError, AttributeError) as exc:
        raise ConversionError(f"{config}: no readable alignment_heads ({exc})") from None
    except ModelError as exc:
        raise ConversionError(f"{config}: {exc}") from None


def _copy(source: Path, out: Path) -> None:
    shutil.copyfile(source, out)


def _write_json(value: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(value, indent=2))


def ensure_converted(source: Path, target: Path) -> Path:
    """The checkpoint converted from `source` in `target`: reused when its stamp matches the
    source (size and hash) and the checkpoint has the stamped size, converted otherwise."""
    if is_converted(source, target):
        return target / CHECKPOINT_FILE
    return convert_directory(source, target)


def is_converted(source: Path, target: Path) -> bool:
    if not (target / TOKENIZER_FILE).is_file():
        return False
    return stamp_matches(
        target / STAMP_FILE, source / "model.bin", target / CHECKPOINT_FILE, format=STAMP_FORMAT
    )


def write_stamp(stamp: Path, source: Path, checkpoint: Path, **fields: Any) -> None:
    """Record that `checkpoint` was made from `source` (sizes and SHA-256), with `fields`."""
    value = {
        **fields,
        "source": {"path": str(source), **file_identity(source)},
        "checkpoint": file_identity(checkpoint),
    }
    atomic_write(stamp, functools.partial(_write_json, value))


def stamp_matches(stamp: Path, source: Path, checkpoint: Path, **fields: Any) -> bool:
    """Whether `stamp` says `checkpoint` was made from `source` as it is now, with `fields`:
    the stamped fields equal, the checkpoint of the stamped size, the source of the stamped
    size and hash."""
    try:
        value = json.loads(stamp.read_text())
        checkpoint_size = checkpoint.stat().st_size
        source_size = source.stat().st_size
    except (OSError, ValueError):
        return False
    if not isinstance(value, dict) or any(value.get(k) != v for k, v in fields.items()):
        return False
    stamped_source, stamped_checkpoint = value.get("source"), value.get("checkpoint")
    if not isinstance(stamped_source, dict) or not isinstance(stamped_checkpoint, dict):
        return False
    if stamped_source.get("size") != source_size:
        return False
    if stamped_checkpoint.get("size") != checkpoint_size:
        return False
    # The source's hash is checked once per process start: a package upgrade that keeps the
    # size but changes the weights must not be served from a stale conversion.
    return bool(stamped_source.get("sha256") == sha256(source))


def whisper_state_dict(
    model: CT2Model, origin: str = "model.bin"
) -> tuple[ModelDimensions, dict[str, torch.Tensor]]:
    """openai-whisper's dimensions and state dict from a CTranslate2 WhisperSpec."""
    if model.spec != WHISPER_SPEC:
        raise ConversionError(f"{origin} is a CTranslate2 {model.spec}, not a Whisper model")
    variables = model.variables
    if model.aliases.get("decoder/projection/weight", "decoder/embeddings/weight") != (
        "decoder/embeddings/weight"
    ):
        raise ConversionError(f"{origin}: the output projection is not tied to the embeddings")
    for name in ("decoder/activation", "decoder/pre_norm"):
        if name not in variables:
            raise ConversionError(f"{origin} lacks {name}: not a Whisper decoder")
    if model.scalar("decoder/activation") != GELU or model.scalar("decoder/pre_norm") != 1:
        raise ConversionError(f"{origin}: the decoder is not Whisper's (pre-norm, GELU)")
    for name, array in variables.items():
        if array.ndim >= 2 and array.dtype not in LOSSLESS_DTYPES:
            raise ConversionError(
                f"{origin}: {name} is stored as {array.dtype} (a quantised CTranslate2 model); "
                "only float16/float32 models convert losslessly"
            )
    layers: dict[str, set[int]] = {"encoder": set(), "decoder": set()}
    for name in variables:
        match = _LAYER.match(name)
        if match:
            layers[match.group(1)].add(int(match.group(2)))
    conv1 = variables["encoder/conv1/weight"]
    embedding = variables["decoder/embeddings/weight"]
    dims = ModelDimensions(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(variables["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(conv1.shape[0]),
        n_audio_head=model.scalar("encoder/num_heads"),
        n_audio_layer=len(layers["encoder"]),
        n_vocab=int(embedding.shape[0]),
        n_text_ctx=int(variables["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(embedding.shape[1]),
        n_text_head=model.scalar("decoder/num_heads"),
        n_text_layer=len(layers["decoder"]),
    )
    state: dict[str, torch.Tensor] = {}
    mapper = _Mapper(variables, state, origin)
    mapper.copy("encoder/conv1", "encoder.conv1")
    mapper.copy("encoder/conv2", "encoder.conv2")
    mapper.tensor("encoder/position_encodings/encodings", "encoder.positional_embedding")
    for i in range(dims.n_audio_layer):
        source, target = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        mapper.self_attention(f"{source}/self_attention", f"{target}.attn", dims.n_audio_state)
        mapper.layer_norm(f"{source}/self_attention/layer_norm", f"{target}.attn_ln")
        mapper.feed_forward(source, target)
    mapper.layer_norm("encoder/layer_norm", "encoder.ln_post")
    mapper.tensor("decoder/embeddings/weight", "decoder.token_embedding.weight")
    mapper.tensor("decoder/position_encodings/encodings", "decoder.positional_embedding")
    for i in range(dims.n_text_layer):
        source, target = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        mapper.self_attention(f"{source}/self_attention", f"{target}.attn", dims.n_text_state)
        mapper.layer_norm(f"{source}/self_attention/layer_norm", f"{target}.attn_ln")
        mapper.cross_attention(f"{source}/attention", f"{target}.cross_attn", dims.n_text_state)
        mapper.layer_norm(f"{source}/attention/layer_norm", f"{target}.cross_attn_ln")
        mapper.feed_forward(source, target)
    mapper.layer_norm("decoder/layer_norm", "decoder.ln")
    return dims, state


class _Mapper:
    """Copies CTranslate2 variables into openai-whisper state-dict entries (float32)."""

    def __init__(
        self,
        variables: dict[str, npt.NDArray[np.generic]],
        state: dict[str, torch.Tensor],
        origin: str,
    ) -> None:
        self.variables = variables
        self.state = state
        self.origin = origin

    def get(self, name: str) -> npt.NDArray[np.float32]:
        try:
            array = self.variables[name]
        except KeyError:
            raise ConversionError(f"{self.origin} lacks {name}: not a Whisper model") from None
        return np.asarray(array, dtype=np.float32)

    def tensor(
        self, source: str, target: str, array: npt.NDArray[np.float32] | None = None
    ) -> None:
        values = self.get(source) if array is None else array
        self.state[target] = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))

    def copy(self, source: str, target: str) -> None:
        self.tensor(f"{source}/weight", f"{target}.weight")
        self.tensor(f"{source}/bias", f"{target}.bias")

    def layer_norm(self, source: str, target: str) -> None:
        self.tensor(f"{source}/gamma", f"{target}.weight")
        self.tensor(f"{source}/beta", f"{target}.bias")

    def feed_forward(self, source: str, target: str) -> None:
        self.layer_norm(f"{source}/ffn/layer_norm", f"{target}.mlp_ln")
        self.copy(f"{source}/ffn/linear_0", f"{target}.mlp.0")
        self.copy(f"{source}/ffn/linear_1", f"{target}.mlp.2")

    def self_attention(self, source: str, target: str, width: int) -> None:
        weight, bias = self._split(f"{source}/linear_0", 3, width)
        self._projections(target, ("query", "key", "value"), weight, bias)
        self.copy(f"{source}/linear_1", f"{target}.out")

    def cross_attention(self, source: str, target: str, width: int) -> None:
        self.copy(f"{source}/linear_0", f"{target}.query")
        weight, bias = self._split(f"{source}/linear_1", 2, width)
        self._projections(target, ("key", "value"), weight, bias)
        self.copy(f"{source}/linear_2", f"{target}.out")

    def _split(
        self, source: str, parts: int, width: int
    ) -> tuple[list[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]]]:
        weight, bias = self.get(f"{source}/weight"), self.get(f"{source}/bias")
        if weight.shape != (parts * width, width) or bias.shape != (parts * width,):
            raise ConversionError(f"{self.origin}: {source} has shape {weight.shape}")
        return np.split(weight, parts), np.split(bias, parts)

    def _projections(
        self,
        target: str,
        names: tuple[str, ...],
        weights: list[npt.NDArray[np.float32]],
        biases: list[npt.NDArray[np.float32]],
    ) -> None:
        for name, weight, bias in zip(names, weights, biases, strict=True):
            self.tensor("", f"{target}.{name}.weight", weight)
            if name != "key":  # Whisper's key projection has no bias (see the module doc)
                self.tensor("", f"{target}.{name}.bias", bias)


def file_identity(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": sha256(path)}


def sha256(path: Path) -> str:
    """The file's SHA-256, read once per process while its size and modification time stay
    (a start checks a source against a prepared conversion, then against the cache's)."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
