"""The confidence every engine reports: per segment from its mean log-probability, per result
the duration-weighted mean (asr_server/types.py)."""

from __future__ import annotations

import math

import pytest
from asr_server.types import Segment, confidence, overall_confidence


def _seg(start: float, end: float, conf: float, text: str = "x") -> Segment:
    return Segment(0, start, end, text, math.log(conf), 0.0, conf)


def test_confidence_is_clamped_geometric_mean_probability() -> None:
    assert confidence(math.log(0.8)) == pytest.approx(0.8)
    assert confidence(0.0) == 1.0
    assert confidence(0.3) == 1.0
    assert confidence(0.5) == 1.0
    assert confidence(-1.0) == pytest.approx(math.exp(-1.0))
    assert confidence(-math.inf) == 0.0
    assert 0.0 <= confidence(-1e6) < 1e-300 or confidence(-1e6) == 0.0


def test_overall_confidence_is_duration_weighted() -> None:
    assert overall_confidence([_seg(0, 3, 0.9), _seg(3, 4, 0.5)]) == pytest.approx(0.8)
    assert overall_confidence([_seg(1, 1, 0.9), _seg(1, 1, 0.5)]) == pytest.approx(0.7)
    assert overall_confidence([]) == 0.0
