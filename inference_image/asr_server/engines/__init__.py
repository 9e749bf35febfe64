"""Engine factory: the configured engine, constructed but not loaded (call `.load()`)."""

from __future__ import annotations

from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine


def create_engine(config: ServerConfig) -> ASREngine:
    """`faster-whisper` (the real model) or `fake` (tests). Loading is the caller's job: it
    blocks for seconds, so the server does it off the event loop."""
    if config.engine == "fake":
        from asr_server.engines.fake import FakeEngine

        return FakeEngine(name=config.model, language=config.language or "en")
    if config.engine == "faster-whisper":
        # Imported here so the fake engine never pays for importing CTranslate2.
        from asr_server.engines.whisper import WhisperEngine

        engine: ASREngine = WhisperEngine(config)
        return engine
    raise ValueError(f"unknown engine {config.engine!r}")
