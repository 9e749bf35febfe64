"""A miniature random-weight Whisper for unit tests of the torch engine's decoding machinery
(no model files needed): its own small vocabulary with Whisper's special-token layout."""

from __future__ import annotations

import torch
from asr_server.engines.torch.checkpoint import ModelDimensions
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.rules import SpecialTokens, TokenRules

TEXT_TOKENS = 40
SOT = 40
EOT = 41
NO_SPEECH = 42
NO_TIMESTAMPS = 43
TIMESTAMP_BEGIN = 44
VOCAB = 64
"""Text 0-39, then sot, eot, no-speech, no-timestamps, and 20 timestamps (44-63)."""

DIMS = ModelDimensions(
    n_mels=8, n_audio_ctx=12, n_audio_state=16, n_audio_head=2, n_audio_layer=1,
    n_vocab=VOCAB, n_text_ctx=32, n_text_state=16, n_text_head=2, n_text_layer=2,
)  # fmt: skip
SPECIAL = SpecialTokens(
    eot=EOT, no_timestamps=NO_TIMESTAMPS, timestamp_begin=TIMESTAMP_BEGIN, vocab_size=VOCAB
)


def tiny_whisper(seed: int = 0) -> Whisper:
    torch.manual_seed(seed)
    model = Whisper(DIMS)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
        model.encoder.positional_embedding.normal_(0, 0.5)
    return model.eval().requires_grad_(False)


def tiny_rules(max_initial_timestamp_index: int = 5) -> TokenRules:
    return TokenRules(SPECIAL, suppress=[SOT, NO_SPEECH], suppress_at_start=[0, EOT],
                      max_initial_timestamp_index=max_initial_timestamp_index)  # fmt: skip


def encoding(model: Whisper, rows: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mel = torch.randn(rows, DIMS.n_mels, 2 * DIMS.n_audio_ctx, generator=generator)
    with torch.inference_mode():
        encoded: torch.Tensor = model.encoder(mel)
    return encoded
