"""Stream settings from the server config and the start message: the encoder context of
stream decodes (the Whisper engine's stream-quality policy) and the endpoint silence."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from asr_server.config import ConfigError, ServerConfig
from asr_server.engines.registry import create_engine
from asr_server.engines.whisper.options import whisper_options
from asr_server.streaming.hub import StreamLimits
from asr_server.streaming.protocol import Final, StartMessage
from asr_server.streaming.session import StreamSession
from asr_server.types import SAMPLE_RATE
from support.pcm import to_pcm16
from support.stream_session import Collector, RecordingDecoder, feed_all


def limits_for(config: ServerConfig) -> StreamLimits:
    """The server's stream limits with the configured Whisper engine's policy (the engine is
    not loaded: its policy needs no model)."""
    engine = create_engine(config)
    return StreamLimits.from_config(config, engine.stream_quality())  # type: ignore[attr-defined]


def test_stream_decodes_use_the_trimmed_context_by_default() -> None:
    limits = limits_for(ServerConfig())
    assert limits.session.quality.encoder_context == "trimmed"  # type: ignore[attr-defined]
    session = StreamSession(StartMessage(), limits.session, RecordingDecoder(), Collector())
    assert whisper_options(session.options).encoder_context == "trimmed"
    assert whisper_options(session.partial_options).encoder_context == "trimmed"


def test_stream_encoder_context_from_env() -> None:
    config = ServerConfig.from_env({"ASR_STREAM_ENCODER_CONTEXT": "full"})
    assert limits_for(config).session.quality.encoder_context == "full"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="ASR_STREAM_ENCODER_CONTEXT"):
        ServerConfig.from_env({"ASR_STREAM_ENCODER_CONTEXT": "half"})


def test_endpoint_silence_from_env_and_start_message() -> None:
    assert limits_for(ServerConfig()).session.endpoint.min_silence_s == 0.5
    config = ServerConfig.from_env({"ASR_STREAM_ENDPOINT_SILENCE_MS": "300"})
    limits = limits_for(config)
    assert limits.session.endpoint.min_silence_s == 0.3
    assert limits.settings_for(StartMessage()) == limits.session
    own = limits.settings_for(StartMessage(endpointing_ms=1200))
    assert own.endpoint.min_silence_s == 1.2
    # Only the silence is the stream's own; the rest stays the server's.
    assert own.endpoint.pad_s == limits.session.endpoint.pad_s
    assert own.quality == limits.session.quality
    assert limits.session.endpoint.min_silence_s == 0.3  # the server's settings are untouched


@pytest.mark.parametrize(
    ("server_ms", "stream_ms", "finals"),
    [
        (None, None, 1),  # the default 0.5 s waits through the pause
        ("250", None, 2),  # the server's setting
        (None, 250, 2),  # the stream's own
        ("250", 500, 1),  # the stream's own wins over the server's
    ],
)
async def test_a_shorter_endpoint_silence_ends_an_utterance_at_a_short_pause(
    jfk_samples: npt.NDArray[np.float32], server_ms: str | None, stream_ms: int | None, finals: int
) -> None:
    env = {"ASR_STREAM_ENDPOINT_SILENCE_MS": server_ms} if server_ms else {}
    limits = limits_for(ServerConfig.from_env(env))
    start = StartMessage(endpointing_ms=stream_ms)
    decoder, out = RecordingDecoder(), Collector()
    session = StreamSession(start, limits.settings_for(start), decoder, out)
    session.start()
    # jfk's speech 0.32-2.24 s, 0.3 s of digital silence, the same speech again: the VAD
    # hears 0.38 s below its end threshold between the two.
    speech = jfk_samples[: int(2.3 * SAMPLE_RATE)]
    pause = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    again = speech[int(0.32 * SAMPLE_RATE) :]
    await feed_all(session, to_pcm16(np.concatenate([speech, pause, again])))
    await session.finish()
    got = [m for m in out.of(Final) if isinstance(m, Final)]
    assert len(got) == finals, got
    if finals == 2:
        assert 2.24 < got[0].end <= got[1].start < 2.6 + 0.1  # cut in the pause
