from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from support.pcm import load_16k


@pytest.fixture(scope="session")
def jfk_samples(jfk_clip: Any) -> npt.NDArray[np.float32]:
    return load_16k(jfk_clip.path)
