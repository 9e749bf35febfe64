"""What the Whisper engine is told: its settings (read from the server's configuration when it
is built) and what a request may ask of it beyond `TranscribeOptions` (`WhisperOptions`).

The engine never imports the server configuration: `WhisperSettings` names the fields it reads,
and the server's `ServerConfig` has them (the registry passes it; tests pass one too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from asr_server import contract
from asr_server.engines.base import EngineError
from asr_server.types import TranscribeOptions

ENCODER_CONTEXTS = contract.ENCODER_CONTEXTS
"""Encoder context: Whisper's padded 30 s window, or the audio plus a margin of silence
(batched/windows.encoder_frames); the contract's list, which the CRD admits."""


class WhisperSettings(Protocol):
    """The server settings the Whisper engine reads (ServerConfig fields of the same names)."""

    @property
    def model(self) -> str:
        """Catalogue name or a CTranslate2 Whisper directory."""
        ...

    @property
    def model_dir(self) -> Path:
        """Cache directory for prepared catalogue models."""
        ...

    @property
    def device(self) -> str:
        """auto | cpu | cuda."""
        ...

    @property
    def compute_type(self) -> str:
        """CTranslate2 compute type, or auto."""
        ...

    @property
    def output_script(self) -> str:
        """Chinese output script: simplified | traditional | as-is."""
        ...

    @property
    def batch_max_size(self) -> int:
        """Windows (and requests) per batched call; 0 chooses from the device (sizing.py)."""
        ...

    @property
    def encoder_context(self) -> str:
        """The encoder context of requests that do not choose one."""
        ...

    @property
    def stream_encoder_context(self) -> str:
        """The encoder context of live streams' decodes (quality.WhisperStreamQuality)."""
        ...

    @property
    def cpu_layout(self) -> str:
        """auto | single | adaptive (sizing.cpu_layout)."""
        ...


@dataclass(frozen=True)
class WhisperOptions:
    """A request's Whisper-only decoding options (`TranscribeOptions.engine`); the beam size is
    every engine's (`TranscribeOptions.beam_size`)."""

    fallback: bool = True
    """With temperature 0: decode a window that fails Whisper's checks again (with the full
    context when it was trimmed, then one deterministic beam-5 pass: fallback.passes). False
    is one pass, for best-effort work such as a stream's partials (mid-word audio often
    "fails" the checks, and each retry costs a whole decode)."""
    encoder_context: str | None = None
    """`full` (Whisper's padded 30 s window), `trimmed` (the audio plus a margin of silence:
    several times cheaper on CPU, text not guaranteed identical) or None for the engine's
    setting (ASR_ENCODER_CONTEXT)."""


DEFAULT_OPTIONS = WhisperOptions()


def whisper_options(options: TranscribeOptions) -> WhisperOptions:
    """The request's Whisper options, the defaults when it has none. EngineError for options
    this engine cannot honour (another engine's, an unknown encoder context)."""
    own = DEFAULT_OPTIONS if options.engine is None else options.engine
    if not isinstance(own, WhisperOptions):
        raise EngineError(f"options for another engine: {type(own).__name__}")
    if own.encoder_context not in (None, *ENCODER_CONTEXTS):
        raise EngineError(f"unknown encoder context {own.encoder_context!r}")
    return own
