"""Window packing: which clips pair up, and how a packed window's segments are given back."""

from __future__ import annotations

import numpy as np
import pytest
from asr_server.engines.base import SAMPLE_RATE, TranscribeOptions
from asr_server.engines.packing import GAP_SECONDS, Pair, pair_up, split
from faster_whisper.feature_extractor import FeatureExtractor


def clip(seconds: float, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def test_short_clips_with_identical_options_pair_in_order() -> None:
    en = TranscribeOptions(language="en")
    items = [
        (clip(5), en),
        (clip(20), en),  # too long to pack
        (clip(4), TranscribeOptions(language="en", word_timestamps=True)),  # needs own window
        (clip(3), en),
        (clip(2), TranscribeOptions()),  # language unknown on a multilingual model
        (clip(6), en),
    ]
    pairs, packed, features = pair_up(items, multilingual=True, extractor=FeatureExtractor())
    assert [(p.first, p.second) for p in pairs] == [(0, 3)]
    assert pairs[0].first_seconds == 5.0
    assert packed[0][0].shape[0] == int((5 + GAP_SECONDS + 3) * SAMPLE_RATE)
    assert features[0].shape == (80, int((5 + GAP_SECONDS + 3) * 100))


def test_each_clip_is_normalised_on_its_own() -> None:
    loud, quiet = clip(3, level=0.9), clip(3, level=0.001)
    _, _, features = pair_up(
        [(loud, TranscribeOptions()), (quiet, TranscribeOptions())],
        multilingual=False,
        extractor=FeatureExtractor(),
    )
    alone = FeatureExtractor()(quiet)[..., :-1]
    np.testing.assert_allclose(features[0][:, -alone.shape[1] :], alone, rtol=1e-5)


def segment(start: float, end: float, text: str) -> dict[str, object]:
    return {"start": start, "end": end, "text": text}


def test_segments_go_back_to_their_clip_in_its_own_time() -> None:
    pair = Pair(first=0, second=1, first_seconds=5.0)
    first, second = split(pair, [segment(0.0, 4.9, " a"), segment(7.1, 9.5, " b")]) or ([], [])
    assert [s["text"] for s in first] == [" a"]
    assert [(s["text"], round(s["start"], 3), s["end"]) for s in second] == [(" b", 0.1, 2.5)]


@pytest.mark.parametrize("straddling", [segment(4.0, 7.5, " ab"), segment(5.5, 6.5, " you")])
def test_a_segment_in_the_gap_means_decode_apart(straddling: dict[str, object]) -> None:
    pair = Pair(first=0, second=1, first_seconds=5.0)
    assert split(pair, [segment(0.0, 4.0, " a"), straddling]) is None


def test_a_segment_running_across_the_gap_is_cut_between_its_words() -> None:
    pair = Pair(first=0, second=1, first_seconds=5.0)
    words = [
        {"word": " ask", "start": 3.0, "end": 3.5, "probability": 0.9},
        {"word": " country.", "start": 4.2, "end": 4.9, "probability": 0.9},
        {"word": " And", "start": 7.1, "end": 7.4, "probability": 0.9},
        {"word": " so", "start": 7.4, "end": 7.8, "probability": 0.9},
    ]
    running = {**segment(3.0, 7.8, " ask country. And so"), "words": words, "tokens": [1, 2]}
    first, second = split(pair, [running]) or ([], [])
    assert [(s["text"], s["start"], s["end"]) for s in first] == [(" ask country.", 3.0, 4.9)]
    assert [s["text"] for s in second] == [" And so"]
    assert round(second[0]["start"], 3) == 0.1 and round(second[0]["end"], 3) == 0.8
    assert [round(w["start"], 3) for w in second[0]["words"]] == [0.1, 0.4]
