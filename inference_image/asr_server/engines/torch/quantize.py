"""`computeType: int8` on CPU: dynamic quantisation of every linear layer, really applied.

`torch.ao.quantization.quantize_dynamic(model, {nn.Linear})` swaps modules whose type is
exactly `nn.Linear`; openai-whisper subclasses it, so there the call returns the model
unchanged and nothing says so. This model is built from plain `nn.Linear` (model.py), and
`quantize` checks the result instead of trusting it: every linear layer must have become a
dynamically quantised one (int8 weights with one scale per output row, as CTranslate2's int8;
activations quantised on the fly, float32 in and out: CTranslate2's `int8_float32`).

The output projection is Whisper's token embedding matrix (tied weights), which the float model
multiplies by directly. Quantised, it becomes a separate quantised linear layer holding the
matrix in int8 (the projection reads the whole matrix at every decoding step), and the
embedding lookup itself is quantised weight-only, per row, so the float32 matrix is not kept.

Quantising needs the float32 model in memory, so it is done once per model cache
(int8_checkpoint.py), not at every start: `int8_state_dict` is what is written, and a serving
process builds the quantised layers straight from it (`load_int8`), so it never holds a float32
linear weight.

torch.ao's quantised modules are untyped in torch 2.13 (hence the `type: ignore`s).
PyTorch 2.13 marks `torch.ao.quantization` and its quantised tensor types deprecated in favour
of the separate torchao package; they work as documented in the pinned release (the tests check
the result, not the call), so the deprecation warnings are silenced here, not hidden upstream.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import cast

import torch
from torch import nn
from torch.ao.nn.quantized import Embedding as QuantizedEmbedding
from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear
from torch.ao.quantization import (
    float_qparams_weight_only_qconfig,
    per_channel_dynamic_qconfig,
    quantize_dynamic,
)

from asr_server.engines.base import ModelError
from asr_server.engines.torch.checkpoint import ModelDimensions
from asr_server.engines.torch.model import Whisper

SCHEME = "dynamic qint8 linear per output row; quint8 embedding per row"
"""What `quantize` produces (stamped with the int8 checkpoint: a change re-quantises)."""


class QuantizationError(RuntimeError):
    """quantize_dynamic left float linear layers behind."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.ao.quantization's deprecation warnings (see the module doc), nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        yield


def quantize(model: Whisper) -> Whisper:
    """int8 `model` (in place; CPU only). Raises QuantizationError if any linear layer is
    still a float one afterwards."""
    decoder = model.decoder
    embedding = cast(torch.Tensor, decoder.token_embedding.weight).detach()
    projection = nn.Linear(embedding.shape[1], embedding.shape[0], bias=False)
    projection.weight = nn.Parameter(embedding, requires_grad=False)
    decoder.logits_projection = projection
    with _quiet():
        quantize_dynamic(  # type: ignore[no-untyped-call]  # untyped in torch 2.13
            model,
            {
                nn.Linear: per_channel_dynamic_qconfig,
                nn.Embedding: float_qparams_weight_only_qconfig,
            },
            dtype=torch.qint8,
            inplace=True,
        )
    check_quantized(model)
    return model


def int8_state_dict(model: Whisper) -> dict[str, torch.Tensor]:
    """The tensors of a model `quantize` made, by openai's parameter names: each quantised
    linear layer's int8 weight (its scales inside) and float bias, the embedding's int8 rows,
    `decoder.logits_projection.weight`, and the float parameters and buffers as they are."""
    state: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, DynamicQuantizedLinear):
            state[f"{name}.weight"] = module.weight()  # type: ignore[no-untyped-call]
            bias = module.bias()  # type: ignore[no-untyped-call]
            if bias is not None:
                state[f"{name}.bias"] = bias
        elif isinstance(module, QuantizedEmbedding):
            state[f"{name}.weight"] = module.weight()  # type: ignore[no-untyped-call]
    # Quantised modules hold no parameters or buffers: what is left is float.
    state.update((n, t.detach()) for n, t in [*model.named_parameters(), *model.named_buffers()])
    return state


def load_int8(dims: ModelDimensions, state_dict: dict[str, torch.Tensor]) -> Whisper:
    """The int8 model of an `int8_state_dict`, taking its tensors out of `state_dict` as it
    goes: each layer is made from its int8 weight and packed for the CPU kernels before the
    next, so nothing but the packed layers keeps the weight (the caller holds no other
    reference: the file is read, not mapped). The float tensors are assigned as they are. No
    float32 linear weight is ever made. ModelError when the tensors do not fit `dims`."""
    with torch.device("meta"):
        model = Whisper(dims)
        decoder = model.decoder
        decoder.logits_projection = nn.Linear(dims.n_text_state, dims.n_vocab, bias=False)
    floats = {name: t for name, t in state_dict.items() if not t.is_quantized}
    try:
        # The float tensors first, while the layers are the float model's (whose biases are
        # assigned here too, then handed to the quantised layers).
        unexpected = model.load_state_dict(floats, strict=False, assign=True).unexpected_keys
        del floats
        with _quiet():
            for parent, name, linear in _float_linear(model):
                quantized = DynamicQuantizedLinear(  # type: ignore[no-untyped-call]
                    linear.in_features, linear.out_features, bias_=linear.bias is not None
                )
                weight = state_dict.pop(f"{name}.weight")
                bias = state_dict.pop(f"{name}.bias") if linear.bias is not None else None
                quantized.set_weight_bias(weight, bias)
                del weight, bias
                setattr(parent, name.rpartition(".")[2], quantized)
            embedding = QuantizedEmbedding(dims.n_vocab, dims.n_text_state)
            embedding.set_weight(state_dict.pop("decoder.token_embedding.weight"))
            decoder.token_embedding = embedding
    except (KeyError, RuntimeError) as exc:  # a missing tensor, a float or misshapen weight
        raise ModelError(f"the int8 checkpoint does not fit a Whisper {dims}: {exc}") from None
    empty = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if unexpected or empty:
        raise ModelError(
            f"the int8 checkpoint does not fit a Whisper {dims}: unexpected "
            f"{', '.join(unexpected) or 'nothing'}, missing {', '.join(empty) or 'nothing'}"
        )
    check_quantized(model)
    return model.eval().requires_grad_(False)


def _float_linear(model: nn.Module) -> list[tuple[nn.Module, str, nn.Linear]]:
    """(parent, qualified name, layer) of every plain float linear layer."""
    modules = dict(model.named_modules())
    return [
        (modules[name.rpartition(".")[0]], name, module)
        for name, module in modules.items()
        if type(module) is nn.Linear
    ]


def check_quantized(model: nn.Module) -> None:
    left = float_linear_layers(model)
    if left:
        raise QuantizationError(f"int8 quantisation left float linear layers: {', '.join(left)}")


def float_linear_layers(model: nn.Module) -> list[str]:
    """Names of the linear layers that are not dynamically quantised."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and not isinstance(module, DynamicQuantizedLinear)
    ]


def quantized_linear_layers(model: nn.Module) -> list[str]:
    return [
        name for name, module in model.named_modules() if isinstance(module, DynamicQuantizedLinear)
    ]
