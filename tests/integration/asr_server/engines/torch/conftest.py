"""The torch engine on the real bundled models, each loaded (and converted) once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from asr_server.audio import decode_audio
from asr_server.engines.torch.engine import TorchEngineOptions, TorchWhisperEngine
from conftest import Clip

LoadTorch = Callable[..., TorchWhisperEngine]


@pytest.fixture(scope="session")
def torch_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session: each catalogue model is converted into it once."""
    return tmp_path_factory.mktemp("torch-models")


@pytest.fixture(scope="session")
def load_torch(torch_model_dir: Path) -> LoadTorch:
    """`load_torch(model, **options)` -> a loaded engine, cached per (model, options)."""
    engines: dict[tuple[str, tuple[tuple[str, object], ...]], TorchWhisperEngine] = {}

    def load(model: str, **options: object) -> TorchWhisperEngine:
        # One thread: these machines share their cores between sessions, where PyTorch's
        # threads wait on each other at every small operation (docs/models.md).
        options = {"cpu_threads": 1, **options}
        key = (model, tuple(sorted(options.items())))
        if key not in engines:
            engine = TorchWhisperEngine(
                TorchEngineOptions(model=model, model_dir=torch_model_dir, **options)  # type: ignore[arg-type]
            )
            engine.load()
            engines[key] = engine
        return engines[key]

    return load


@pytest.fixture(scope="session")
def torch_tiny(load_torch: LoadTorch) -> TorchWhisperEngine:
    return load_torch("whisper-tiny.en")


@pytest.fixture(scope="session")
def torch_base(load_torch: LoadTorch) -> TorchWhisperEngine:
    return load_torch("whisper-base")


@pytest.fixture(scope="session")
def jfk_audio(jfk_clip: Clip) -> np.ndarray:
    return decode_audio(jfk_clip.path.read_bytes())


@pytest.fixture(scope="session")
def mandarin_audio(mandarin_clip: Clip) -> np.ndarray:
    return decode_audio(mandarin_clip.path.read_bytes())
