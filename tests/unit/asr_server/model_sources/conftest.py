"""A stand-in model directory for the source tests (support/model_dirs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.model_dirs import write_model


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_model(tmp_path / "whisper-custom")
