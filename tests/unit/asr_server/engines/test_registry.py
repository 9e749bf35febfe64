"""The engine registry: every configurable engine is registered the same way (a name and the
module whose `create` builds it from the server's settings), and is built unloaded."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from asr_server.config import ENGINES, ServerConfig
from asr_server.engines import registry
from asr_server.engines.base import ASREngine, BatchSizing, HasStreamQuality, ReportsProgress
from asr_server.engines.fake import FakeEngine


def test_the_registry_and_the_configuration_name_the_same_engines() -> None:
    assert set(registry.ENGINES) == set(ENGINES)


@pytest.mark.parametrize("name", sorted(registry.ENGINES))
def test_every_engine_is_a_module_with_a_create_factory(name: str) -> None:
    module = importlib.import_module(registry.ENGINES[name])
    assert callable(module.create)
    engine = registry.create_engine(ServerConfig(engine=name, model="whisper-tiny.en"))
    assert isinstance(engine, ASREngine)
    assert not engine.ready
    assert engine.info.name == "whisper-tiny.en"


def test_an_unknown_engine_is_refused() -> None:
    class Settings:
        engine = "espnet"

    with pytest.raises(ValueError, match="unknown engine 'espnet'"):
        registry.create_engine(Settings())


def test_the_fake_engine_has_no_optional_capability_and_reads_its_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASR_FAKE_DELAY_S", "0.25")
    engine = registry.create_engine(ServerConfig(engine="fake", language="de"))
    assert isinstance(engine, FakeEngine)
    assert (engine.delay_s, engine.language) == (0.25, "de")
    for capability in (BatchSizing, ReportsProgress, HasStreamQuality):
        assert not isinstance(engine, capability)


def test_building_the_fake_engine_never_imports_ctranslate2() -> None:
    code = (
        "import sys\n"
        "from asr_server.config import ServerConfig\n"
        "from asr_server.engines.registry import create_engine\n"
        "create_engine(ServerConfig(engine='fake')).load()\n"
        "print('ctranslate2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
