"""The torch engine: Whisper on PyTorch, with hotword biasing in the decoder.

By concern: `ct2_format` reads CTranslate2's model.bin, `convert` turns a CTranslate2 Whisper
into an openai-whisper checkpoint (`checkpoint`), `resolve` finds the checkpoint a model name
means, `model` is the network with its decoding cache, `vocabulary` and `rules` say which
tokens may come next, `context_graph` turns hotwords into boosts, `decoding` searches,
`segments` times the result, `alignment` times its words, `pipeline` cuts requests into
windows and batches them, `quantize` makes int8, and `engine` is the `ASREngine` the server
loads. Nothing here is imported by the rest of the server unless the torch engine is chosen
(torch is an optional dependency: `pip install 'asr-server[torch]'`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asr_server.engines.torch.engine import TorchWhisperEngine


def create(settings: Any) -> TorchWhisperEngine:
    """The engine for the server's settings (the fields of `TorchEngineOptions` it has),
    constructed but not loaded: the factory an engine registry calls for `torch`."""
    from asr_server.engines.torch.engine import TorchEngineOptions, TorchWhisperEngine

    return TorchWhisperEngine(TorchEngineOptions.from_server_config(settings))
