"""int8 really quantises: every linear layer becomes a dynamically quantised one (the trap of
openai-whisper's Linear subclass, which quantize_dynamic skips without a word, is caught), the
embedding matrix is held in int8 only, and the model still computes what the float one does."""

from __future__ import annotations

import pytest
import torch
from asr_server.engines.torch.decoding import RowPrompt, Search, decode
from asr_server.engines.torch.quantize import (
    QuantizationError,
    float_linear_layers,
    quantize,
    quantized_linear_layers,
)
from support.tiny_whisper import DIMS, NO_SPEECH, SOT, encoding, tiny_rules, tiny_whisper
from torch import nn


def test_every_linear_layer_is_quantised() -> None:
    model = tiny_whisper()
    linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert len(linear) == DIMS.n_audio_layer * 6 + DIMS.n_text_layer * 10
    quantize(model)
    assert float_linear_layers(model) == []
    # ... plus the output projection, now a quantised layer of its own.
    assert sorted(quantized_linear_layers(model)) == sorted([*linear, "decoder.logits_projection"])
    weight = model.decoder.blocks[0].mlp[0].weight()
    assert weight.dtype == torch.qint8
    assert model.decoder.token_embedding.weight().dtype == torch.quint8
    assert not any(p.dtype == torch.float32 and p.dim() == 2 and p.shape[0] == DIMS.n_vocab
                   for p in model.parameters())  # fmt: skip


def test_a_linear_subclass_left_float_is_an_error() -> None:
    class CastingLinear(nn.Linear):  # as openai-whisper's Linear
        pass

    model = tiny_whisper()
    block = model.encoder.blocks[0]
    old = block.mlp[0]
    block.mlp[0] = CastingLinear(old.in_features, old.out_features)
    with pytest.raises(QuantizationError, match=r"encoder\.blocks\.0\.mlp\.0"):
        quantize(model)


def test_the_quantised_model_computes_about_what_the_float_one_does() -> None:
    float_model, int8_model = tiny_whisper(), quantize(tiny_whisper())
    encoded = encoding(float_model, 1)
    with torch.inference_mode():
        ours = int8_model.encoder(
            torch.randn(1, DIMS.n_mels, 24, generator=torch.Generator().manual_seed(3))
        )
        theirs = float_model.encoder(
            torch.randn(1, DIMS.n_mels, 24, generator=torch.Generator().manual_seed(3))
        )
        assert torch.nn.functional.cosine_similarity(ours.flatten(), theirs.flatten(), dim=0) > 0.95
        result = decode(int8_model, encoded, [RowPrompt([SOT], 0)], tiny_rules(), Search(),
                        NO_SPEECH)[0][0]  # fmt: skip
    assert result.tokens and result.sum_logprob < 0
