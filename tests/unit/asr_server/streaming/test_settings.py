"""Stream settings from the server config: the encoder context of stream decodes."""

from __future__ import annotations

import pytest
from asr_server.config import ConfigError, ServerConfig
from asr_server.streaming.hub import StreamLimits
from asr_server.streaming.protocol import StartMessage
from asr_server.streaming.session import StreamSession
from support.stream_session import Collector, RecordingDecoder


def test_stream_decodes_use_the_trimmed_context_by_default() -> None:
    limits = StreamLimits.from_config(ServerConfig())
    assert limits.session.encoder_context == "trimmed"
    session = StreamSession(StartMessage(), limits.session, RecordingDecoder(), Collector())
    assert session.options.encoder_context == "trimmed"
    assert session.partial_options.encoder_context == "trimmed"


def test_stream_encoder_context_from_env() -> None:
    config = ServerConfig.from_env({"ASR_STREAM_ENCODER_CONTEXT": "full"})
    assert StreamLimits.from_config(config).session.encoder_context == "full"
    with pytest.raises(ConfigError, match="ASR_STREAM_ENCODER_CONTEXT"):
        ServerConfig.from_env({"ASR_STREAM_ENCODER_CONTEXT": "half"})
