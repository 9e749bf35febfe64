"""The engine registry: the name ASR_ENGINE gives -> the module whose `create` builds it.

An engine is a package (or module) under `asr_server.engines` exposing
`create(settings) -> ASREngine`, where `settings` is the server's `ServerConfig` as seen
through the engine's own settings protocol (the fields it reads, e.g. whisper/options.py
`WhisperSettings`); it registers with one line in `ENGINES` (and its name among the
configuration's choices, config.ENGINES). A module is imported only when its engine is chosen,
so the fake engine never pays for importing CTranslate2. docs/architecture.md, "Adding an
engine", has the whole recipe.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from asr_server.engines.base import ASREngine

ENGINES: dict[str, str] = {
    "faster-whisper": "asr_server.engines.whisper",
    "torch": "asr_server.engines.torch",
    "fake": "asr_server.engines.fake",
}
"""Engine name -> the module of its `create` factory."""


class EngineConfig(Protocol):
    """What the registry itself reads of the settings it passes on."""

    @property
    def engine(self) -> str: ...


def create_engine(settings: EngineConfig) -> ASREngine:
    """The engine `settings.engine` names, constructed but not loaded: loading blocks for
    seconds, so the server does it off the event loop (DataPlane.start)."""
    try:
        module = importlib.import_module(ENGINES[settings.engine])
    except KeyError:
        raise ValueError(f"unknown engine {settings.engine!r}") from None
    engine = module.create(settings)
    if not isinstance(engine, ASREngine):
        raise TypeError(
            f"{module.__name__}.create() returned {type(engine).__name__}, not an engine"
        )
    return engine
