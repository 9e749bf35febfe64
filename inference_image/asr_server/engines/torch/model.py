"""Whisper in PyTorch: the encoder and a decoder with a key/value cache for batched beams.

The modules and parameter names are openai-whisper's (a checkpoint's state dict loads as is),
built from plain `nn.Linear`, `nn.LayerNorm`, `nn.Conv1d`, `nn.Embedding`, so that
`torch.ao.quantization.quantize_dynamic` finds and quantises them (quantize.py).

Decoding state (`DecoderCache`): per layer the self-attention keys/values of every sequence
decoded so far, `(rows * beams, heads, steps, head width)`, and the cross-attention
keys/values of each window's encoding, `(rows, heads, frames, head width)`, computed once per
window. The beams of a row are not given copies of the encoding: their queries are laid side
by side along the query axis of one attention call over the row's keys, since every beam
attends to the same audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asr_server.engines.base import ModelError
from asr_server.engines.torch.checkpoint import ModelDimensions


class LayerNorm(nn.LayerNorm):
    """Normalises in float32 whatever the model's precision (float16 on a GPU would lose the
    statistics of Whisper's large activations)."""

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        normalised = F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps)
        return normalised.type(x.dtype)


@dataclass
class LayerCache:
    """One decoder layer's keys and values (see the module doc for the shapes)."""

    cross_key: Tensor
    cross_value: Tensor
    self_key: Tensor | None = None
    self_value: Tensor | None = None


@dataclass
class DecoderCache:
    layers: list[LayerCache]
    beams: int = 1
    """Sequences per row: 1 until the first beam-search step expands them."""
    length: int = 0
    """Tokens decoded so far (the prompt included)."""

    def reorder(self, sequences: Tensor) -> None:
        """Keep the self-attention state of `sequences` (indices into rows * beams), in order:
        beams that survive a step, and the expansion of one sequence into a row's beams."""
        for layer in self.layers:
            assert layer.self_key is not None and layer.self_value is not None
            layer.self_key = layer.self_key.index_select(0, sequences)
            layer.self_value = layer.self_value.index_select(0, sequences)

    def keep_rows(self, rows: Tensor) -> None:
        """Drop the finished rows' cross-attention state (the caller reorders the sequences)."""
        for layer in self.layers:
            layer.cross_key = layer.cross_key.index_select(0, rows)
            layer.cross_value = layer.cross_value.index_select(0, rows)


class MultiHeadAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width, bias=False)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def split(self, x: Tensor) -> Tensor:
        """(batch, length, width) -> (batch, heads, length, head width)."""
        batch, length, width = x.shape
        return x.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

    def merge(self, x: Tensor) -> Tensor:
        batch, heads, length, head_width = x.shape
        return x.transpose(1, 2).reshape(batch, length, heads * head_width)

    def forward(self, x: Tensor) -> Tensor:
        """Self-attention without a mask (the encoder)."""
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        return self.project(F.scaled_dot_product_attention(q, k, v))

    def project(self, attended: Tensor) -> Tensor:
        """The output projection of attention results (batch, heads, length, head width)."""
        out: Tensor = self.out(self.merge(attended))
        return out

    def cached_self_attention(self, x: Tensor, cache: LayerCache) -> Tensor:
        """Causal self-attention of new tokens `x` (sequences, new, width) after the cached
        ones; appends their keys and values to `cache`."""
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        first = cache.self_key is None
        if cache.self_key is not None and cache.self_value is not None:
            k = torch.cat([cache.self_key, k], dim=2)
            v = torch.cat([cache.self_value, v], dim=2)
        cache.self_key, cache.self_value = k, v
        # New tokens see all cached ones; among themselves only earlier ones. Decoding adds one
        # token at a time after the prompt, which is the only multi-token (causal) call.
        causal = first and x.shape[1] > 1
        return self.project(F.scaled_dot_product_attention(q, k, v, is_causal=causal))

    def cross_attention(
        self, x: Tensor, cache: LayerCache, beams: int, logits: list[Tensor] | None = None
    ) -> Tensor:
        """Attention of `x` (rows * beams, new, width) over each row's encoding. With `logits`,
        the attention logits (rows, heads, beams * new, frames) are appended to it (word
        alignment reads them; the fused kernel that decoding uses never forms them)."""
        sequences, length, width = x.shape
        rows = sequences // beams
        # Queries of a row's beams side by side: (rows, heads, beams * new, head width).
        q = self.split(self.query(x).reshape(rows, beams * length, width))
        if logits is None:
            attended = F.scaled_dot_product_attention(q, cache.cross_key, cache.cross_value)
        else:
            scores = (q @ cache.cross_key.transpose(-1, -2)) * q.shape[-1] ** -0.5
            logits.append(scores.float())
            attended = scores.softmax(dim=-1) @ cache.cross_value
        out: Tensor = self.out(self.merge(attended).reshape(sequences, length, width))
        return out

    def encoding_keys(self, encoding: Tensor) -> tuple[Tensor, Tensor]:
        return self.split(self.key(encoding)), self.split(self.value(encoding))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, cross_attention: bool = False) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(width, heads)
        self.attn_ln = LayerNorm(width)
        self.cross_attn = MultiHeadAttention(width, heads) if cross_attention else None
        self.cross_attn_ln = LayerNorm(width) if cross_attention else None
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )
        self.mlp_ln = LayerNorm(width)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.attn_ln(x))
        return self.feed_forward(x)

    def decode(
        self, x: Tensor, cache: LayerCache, beams: int, logits: list[Tensor] | None = None
    ) -> Tensor:
        x = x + self.attn.cached_self_attention(self.attn_ln(x), cache)
        x = x + self.cross().cross_attention(self.cross_ln()(x), cache, beams, logits)
        return self.feed_forward(x)

    def feed_forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.mlp(self.mlp_ln(x))
        return out

    def cross(self) -> MultiHeadAttention:
        """The cross-attention (decoder blocks only)."""
        assert isinstance(self.cross_attn, MultiHeadAttention)
        return self.cross_attn

    def cross_ln(self) -> LayerNorm:
        assert isinstance(self.cross_attn_ln, LayerNorm)
        return self.cross_attn_ln


def _blocks(blocks: nn.ModuleList) -> list[ResidualAttentionBlock]:
    """The blocks, typed (an `nn.ModuleList` yields plain modules)."""
    return cast(list[ResidualAttentionBlock], list(blocks))


class AudioEncoder(nn.Module):
    positional_embedding: Tensor
    """Sinusoids (a buffer, in openai-whisper's state dict)."""

    def __init__(self, dims: ModelDimensions) -> None:
        super().__init__()
        width = dims.n_audio_state
        self.conv1 = nn.Conv1d(dims.n_mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.empty(dims.n_audio_ctx, width))
        self.blocks = nn.ModuleList(
            ResidualAttentionBlock(width, dims.n_audio_head) for _ in range(dims.n_audio_layer)
        )
        self.ln_post = LayerNorm(width)

    def forward(self, mel: Tensor) -> Tensor:
        """(windows, mels, frames) -> (windows, frames / 2, width). Fewer than 3000 frames
        encode a trimmed context (engines/windows.py): the positions are those of its start."""
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.positional_embedding[: x.shape[1]].to(x.dtype)
        for block in _blocks(self.blocks):
            x = block(x)
        encoded: Tensor = self.ln_post(x)
        return encoded


class TextDecoder(nn.Module):
    def __init__(self, dims: ModelDimensions) -> None:
        super().__init__()
        width = dims.n_text_state
        # Not initialised: weights always come from a checkpoint, and nn.Embedding's own
        # normal_ initialisation on the meta device imports torch's Python decompositions
        # (~800 modules, ~74 MB of RSS kept for the life of the process). (from_pretrained
        # is untyped in torch 2.13.)
        self.token_embedding: nn.Module = nn.Embedding.from_pretrained(  # type: ignore[no-untyped-call]
            torch.empty(dims.n_vocab, width), freeze=True
        )
        """An nn.Embedding; int8 makes it a quantised one (quantize.py)."""
        self.positional_embedding = nn.Parameter(torch.empty(dims.n_text_ctx, width))
        self.blocks = nn.ModuleList(
            ResidualAttentionBlock(width, dims.n_text_head, cross_attention=True)
            for _ in range(dims.n_text_layer)
        )
        self.ln = LayerNorm(width)
        self.logits_projection: nn.Module | None = None
        """Set by int8 quantisation: a quantised Linear holding the embedding matrix (the
        float model projects with the embedding weights themselves, tied as in Whisper)."""

    def start(self, encoding: Tensor) -> DecoderCache:
        """A fresh cache for decoding against `encoding` (rows, frames, width)."""
        layers = []
        for block in _blocks(self.blocks):
            key, value = block.cross().encoding_keys(encoding)
            layers.append(LayerCache(cross_key=key, cross_value=value))
        return DecoderCache(layers)

    def forward(
        self, tokens: Tensor, cache: DecoderCache, cross_logits: list[Tensor] | None = None
    ) -> Tensor:
        """Hidden states (sequences, new, width) of `tokens` (sequences, new) decoded after the
        `cache.length` tokens before them; the cache grows by the new tokens. `cross_logits`
        collects each layer's cross-attention logits (see `cross_attention`)."""
        offset = cache.length
        positions = self.positional_embedding[offset : offset + tokens.shape[-1]]
        x = (self.token_embedding(tokens) + positions).to(cache.layers[0].cross_key.dtype)
        for block, layer in zip(_blocks(self.blocks), cache.layers, strict=True):
            x = block.decode(x, layer, cache.beams, cross_logits)
        cache.length += tokens.shape[-1]
        hidden: Tensor = self.ln(x)
        return hidden

    def logits(self, hidden: Tensor) -> Tensor:
        """Vocabulary logits (float32) of hidden states (..., width)."""
        if self.logits_projection is not None:
            projected: Tensor = self.logits_projection(hidden.float())
            return projected
        embedding = cast(Tensor, self.token_embedding.weight)
        return (hidden @ embedding.to(hidden.dtype).T).float()


class Whisper(nn.Module):
    def __init__(self, dims: ModelDimensions) -> None:
        super().__init__()
        self.dims = dims
        self.encoder = AudioEncoder(dims)
        self.decoder = TextDecoder(dims)

    @classmethod
    def from_state_dict(cls, dims: ModelDimensions, state_dict: dict[str, Tensor]) -> Whisper:
        """The float model holding `state_dict`'s tensors as they are (mapped ones stay
        mapped), for inference. Built on the meta device so no weight is initialised only to
        be overwritten. ModelError when the state dict does not fit `dims`."""
        with torch.device("meta"):
            model = cls(dims)
        try:
            model.load_state_dict(state_dict, strict=True, assign=True)
        except RuntimeError as exc:  # missing/unexpected keys or shape mismatches
            raise ModelError(f"the checkpoint does not fit a Whisper {dims}: {exc}") from None
        return model.eval().requires_grad_(False)
