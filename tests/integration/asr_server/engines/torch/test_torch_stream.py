"""`GET /v1/stream` with the torch engine: a real server (ASR_ENGINE=torch) on a real socket,
real speech streamed in 100 ms frames; the finals match the reference, and the start message's
hotwords reach the decoder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from asr_server.config import ServerConfig
from asr_server.engines.torch.engine import TorchWhisperEngine
from asr_server.streaming.client import StreamOutcome, stream_frames
from asr_server.types import SAMPLE_RATE
from conftest import Clip
from support.pcm import frames, load_16k, to_pcm16
from support.rare_words import RARE_SENTENCES, hotword_hits, speak
from support.stream_server import ServerThread
from support.text import word_error_rate

pytestmark = pytest.mark.model

SPEED = 3.0
"""Frames are sent 3x faster than live, as in the faster-whisper stream tests."""
PARAFORMER = RARE_SENTENCES[6]


@pytest.fixture(scope="module")
def torch_server(torch_tiny: TorchWhisperEngine, torch_model_dir: Path) -> Iterator[ServerThread]:
    """The server configured for the torch engine, serving the session's loaded tiny.en (one
    CPU thread, see conftest) so the model is not converted and loaded twice."""
    config = ServerConfig(engine="torch", model="whisper-tiny.en", model_dir=torch_model_dir)
    server = ServerThread(config, torch_tiny).start()
    yield server
    server.stop()


def check_finals(outcome: StreamOutcome) -> None:
    finals = outcome.of("final")
    assert finals, outcome.received
    assert [f["segment_id"] for f in finals] == list(range(len(finals)))
    assert all(0 < f["confidence"] <= 1 for f in finals)
    assert outcome.of("error") == [] and outcome.close_code == 1000


async def test_jfk_streams_to_finals_matching_the_reference(
    torch_server: ServerThread, jfk_clip: Clip
) -> None:
    pcm = to_pcm16(load_16k(jfk_clip.path))
    outcome = await stream_frames(torch_server.url, frames(pcm), speed=SPEED)
    check_finals(outcome)
    # tiny.en hears the first utterance alone (cut at its 1.1 s pause) as "And so am I fellow
    # Americans" on faster-whisper too (tests/integration/asr_server/test_stream.py).
    assert word_error_rate(jfk_clip.transcript, outcome.text) <= 0.15, outcome.text
    assert all(0 <= f["start"] < f["end"] <= 11.01 for f in outcome.of("final"))


async def test_the_start_message_hotwords_bias_the_stream(
    torch_server: ServerThread, tmp_path: Path
) -> None:
    speech = speak(PARAFORMER.text, tmp_path, "paraformer")
    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)  # a pause that ends the utterance
    pcm = to_pcm16(np.concatenate([speech, silence]))
    plain = await stream_frames(torch_server.url, frames(pcm), speed=SPEED, language="en")
    biased = await stream_frames(
        torch_server.url, frames(pcm), speed=SPEED, language="en", hotwords="Paraformer:3"
    )
    check_finals(plain)
    check_finals(biased)
    assert hotword_hits(("Paraformer",), plain.text) == 0, plain.text
    assert hotword_hits(("Paraformer",), biased.text) == 1, biased.text
