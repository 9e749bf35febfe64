"""The confidence every engine reports: per segment from its mean log-probability, per result
the duration-weighted mean; the beam size of the options (asr_server/types.py)."""

from __future__ import annotations

import math

import pytest
from asr_server.types import Segment, TranscribeOptions, confidence, overall_confidence


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


def test_an_unset_beam_size_takes_the_servers_and_decodes_greedily_alone() -> None:
    unset = TranscribeOptions(language="en")
    assert unset.beam_width == 1  # an engine called directly: greedy
    assert unset.with_defaults(beam_size=5) == TranscribeOptions(language="en", beam_size=5)
    chosen = TranscribeOptions(beam_size=2)
    assert chosen.with_defaults(beam_size=5) is chosen and chosen.beam_width == 2
    with pytest.raises(ValueError, match="beam_size"):
        TranscribeOptions(beam_size=0)
