"""int8 really quantises: every linear layer becomes a dynamically quantised one (the trap of
openai-whisper's Linear subclass, which quantize_dynamic skips without a word, is caught), the
embedding matrix is held in int8 only, and the model still computes what the float one does.
The int8 state dict holds no float weight matrix, and the model loaded from it computes exactly
what the quantised one does; a state dict that does not fit is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from asr_server.engines.base import ModelError
from asr_server.engines.torch.checkpoint import load_checkpoint, save_checkpoint
from asr_server.engines.torch.decoding import RowPrompt, Search, decode
from asr_server.engines.torch.model import DecoderCache, Whisper
from asr_server.engines.torch.quantize import (
    QuantizationError,
    float_linear_layers,
    int8_state_dict,
    load_int8,
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
    rows = model.decoder.blocks[0].mlp[0].out_features
    assert weight.q_per_channel_scales().shape == (rows,)  # one scale per row, as CTranslate2
    assert not weight.q_per_channel_zero_points().any()  # symmetric
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


def outputs(model: Whisper) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder output and the first decoding step's logits on fixed input."""
    mel = torch.randn(2, DIMS.n_mels, 24, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        encoded = model.encoder(mel)
        cache: DecoderCache = model.decoder.start(encoded)
        logits = model.decoder.logits(model.decoder(torch.tensor([[SOT, 3], [SOT, 7]]), cache))
    return encoded, logits


def test_the_int8_state_dict_loads_into_the_same_int8_model(tmp_path: Path) -> None:
    quantized = quantize(tiny_whisper())
    state = int8_state_dict(quantized)
    assert state["decoder.blocks.0.mlp.0.weight"].dtype == torch.qint8
    assert state["decoder.logits_projection.weight"].shape == (DIMS.n_vocab, DIMS.n_text_state)
    assert state["decoder.token_embedding.weight"].dtype == torch.quint8
    assert not [n for n, t in state.items() if t.dim() == 2 and t.dtype == torch.float32
                and "positional" not in n]  # fmt: skip
    path = tmp_path / "model.int8.pt"
    save_checkpoint(DIMS, state, path)
    checkpoint = load_checkpoint(path, mmap=False)
    loaded = load_int8(checkpoint.dims, checkpoint.state_dict)
    assert float_linear_layers(loaded) == []
    assert sorted(quantized_linear_layers(loaded)) == sorted(quantized_linear_layers(quantized))
    # Each int8 tensor is taken out of the state dict once packed (so it can be released).
    assert not [n for n, t in checkpoint.state_dict.items() if t.is_quantized]
    for ours, theirs in zip(outputs(loaded), outputs(quantized), strict=True):
        assert torch.equal(ours, theirs)


def test_a_state_dict_that_does_not_fit_is_refused() -> None:
    state = int8_state_dict(quantize(tiny_whisper()))
    missing = dict(state)
    del missing["encoder.blocks.0.mlp.2.weight"]
    with pytest.raises(ModelError, match=r"encoder\.blocks\.0\.mlp\.2\.weight"):
        load_int8(DIMS, missing)
    extra = {**state, "decoder.surplus": torch.zeros(3)}
    with pytest.raises(ModelError, match=r"unexpected decoder\.surplus"):
        load_int8(DIMS, extra)
    with pytest.raises(ModelError, match="does not fit"):  # a float checkpoint is no int8 one
        load_int8(DIMS, dict(tiny_whisper().state_dict()))
