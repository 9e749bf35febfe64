"""The faster-whisper (CTranslate2) engine: `engine.py` (WhisperEngine), its settings and
per-request options (`options.py`), model catalogue, device sizing, quality checks and fallback,
stream-quality policy, and the cross-request batched decoder (`batched/`).

`create` is the factory the engine registry (engines/registry.py) calls for
ASR_ENGINE=faster-whisper. Importing this package stays cheap (its options and policies are
used without a model); CTranslate2 and faster-whisper load with the engine module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asr_server.engines.whisper.options import WhisperSettings

if TYPE_CHECKING:
    from asr_server.engines.whisper.engine import WhisperEngine


def create(settings: WhisperSettings) -> WhisperEngine:
    """The engine for the server's settings, constructed but not loaded."""
    from asr_server.engines.whisper.engine import WhisperEngine

    return WhisperEngine(settings)
