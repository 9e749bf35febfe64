"""`computeType: int8` on CPU: dynamic quantisation of every linear layer, really applied.

`torch.ao.quantization.quantize_dynamic(model, {nn.Linear})` swaps modules whose type is
exactly `nn.Linear`; openai-whisper subclasses it, so there the call returns the model
unchanged and nothing says so. This model is built from plain `nn.Linear` (model.py), and
`quantize` checks the result instead of trusting it: every linear layer must have become a
dynamically quantised one (int8 weights, activations quantised on the fly, float32 in and
out: CTranslate2's `int8_float32`).

The output projection is Whisper's token embedding matrix (tied weights), which the float model
multiplies by directly. Quantised, it becomes a separate quantised linear layer holding the
matrix in int8 (the projection reads the whole matrix at every decoding step), and the
embedding lookup itself is quantised weight-only, per row, so the float32 matrix is not kept.

PyTorch 2.13 marks `torch.ao.quantization` and its quantised tensor types deprecated in favour
of the separate torchao package; they work as documented in the pinned release (the tests check
the result, not the call), so the deprecation warnings are silenced here, not hidden upstream.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear
from torch.ao.quantization import (
    default_dynamic_qconfig,
    float_qparams_weight_only_qconfig,
    quantize_dynamic,
)

from asr_server.engines.torch.model import Whisper


class QuantizationError(RuntimeError):
    """quantize_dynamic left float linear layers behind."""


def quantize(model: Whisper) -> Whisper:
    """int8 `model` (in place; CPU only). Raises QuantizationError if any linear layer is
    still a float one afterwards."""
    decoder = model.decoder
    embedding = decoder.token_embedding.weight.detach()
    projection = nn.Linear(embedding.shape[1], embedding.shape[0], bias=False)
    projection.weight = nn.Parameter(embedding, requires_grad=False)
    decoder.logits_projection = projection
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        quantize_dynamic(  # type: ignore[no-untyped-call]  # untyped in torch 2.13
            model,
            {nn.Linear: default_dynamic_qconfig, nn.Embedding: float_qparams_weight_only_qconfig},
            dtype=torch.qint8,
            inplace=True,
        )
    left = float_linear_layers(model)
    if left:
        raise QuantizationError(f"int8 quantisation left float linear layers: {', '.join(left)}")
    return model


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
