"""Every open stream of one server: the concurrency limit, the decodes it asks of the data
plane, metrics and SIGTERM drain."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from asr_server.config import ServerConfig
from asr_server.dataplane import DataPlane
from asr_server.engines.base import StreamQuality
from asr_server.fields import FieldContext
from asr_server.metrics import Metrics
from asr_server.streaming.crowd import FirstPartials
from asr_server.streaming.decoding import FINAL, PARTIAL
from asr_server.streaming.protocol import StartMessage
from asr_server.streaming.quality import PLAIN
from asr_server.streaming.utterance import StreamSettings
from asr_server.streaming.vad import EndpointSettings
from asr_server.types import Audio, TranscribeOptions, Transcription

MAX_FRAME_BYTES = 64 * 1024
"""Largest binary frame accepted (2 s of 16 kHz PCM16); clients send 20-200 ms frames."""
BUSY_RETRY_AFTER_S = 2.0
"""Suggested wait in `busy`: streams are long-lived, a slot frees when one ends."""


@dataclass(frozen=True)
class StreamLimits:
    max_streams: int = 32
    max_stream_seconds: float = 3600.0
    idle_timeout_s: float = 30.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    session: StreamSettings = field(default_factory=StreamSettings)

    @classmethod
    def from_config(cls, config: ServerConfig, quality: StreamQuality = PLAIN) -> StreamLimits:
        """The server's stream settings, decoding by the engine's policy `quality`."""
        return cls(
            max_streams=config.max_streams,
            max_stream_seconds=config.stream_max_seconds,
            idle_timeout_s=config.stream_idle_timeout_s,
            session=StreamSettings(
                partial_interval_s=config.stream_partial_interval_ms / 1000,
                max_utterance_s=config.stream_max_utterance_s,
                quality=quality,
                endpoint=EndpointSettings(min_silence_s=config.stream_endpoint_silence_ms / 1000),
            ),
        )

    def settings_for(self, start: StartMessage) -> StreamSettings:
        """The settings of a stream: the server's, with what its start message chose."""
        if start.endpointing_ms is None:
            return self.session
        endpoint = replace(self.session.endpoint, min_silence_s=start.endpointing_ms / 1000)
        return replace(self.session, endpoint=endpoint)


class _MetricsObserver:
    def __init__(self, metrics: Metrics, protocol: str) -> None:
        self._first_partial = metrics.stream_first_partial_seconds.labels(protocol)
        self._final_latency = metrics.stream_final_latency_seconds.labels(protocol)

    def first_partial(self, seconds: float) -> None:
        self._first_partial.observe(seconds)

    def final_latency(self, seconds: float) -> None:
        self._final_latency.observe(seconds)


DrainCallback = Callable[[], Awaitable[None]]


class StreamHub:
    """Admits streams up to the limit and finalises them all on drain, whatever their
    protocol (metrics.STREAM_PROTOCOLS: /v1/stream and OpenAI's /v1/realtime share the limit,
    the decodes and the drain; each has its own metrics labels)."""

    def __init__(
        self,
        limits: StreamLimits,
        dataplane: DataPlane,
        metrics: Metrics,
        fields: FieldContext | None = None,
    ) -> None:
        self.limits = limits
        self.dataplane = dataplane
        self.metrics = metrics
        self.fields = fields or FieldContext()
        """How start messages are validated (fields.py): the server's language, the model's."""
        self.language = self.fields.default_language
        self.first_partials = FirstPartials()
        self.draining = False
        self._open: dict[object, DrainCallback] = {}

    @property
    def active(self) -> int:
        return len(self._open)

    def observer(self, protocol: str = "stream") -> _MetricsObserver:
        """Where a session of `protocol` reports its latencies."""
        return _MetricsObserver(self.metrics, protocol)

    async def decode(
        self, audio: Audio, options: TranscribeOptions, kind: str, since: float
    ) -> Transcription:
        """A session's decode (decoding.Decode), through the data plane. While draining, an
        open stream's finals still decode (streams finish). Partials are best-effort: they
        queue behind finals and HTTP requests, except a stream's first one, which queues like
        a request (it tells the speaker they are heard). `since` (the audio's arrival) puts a
        final that already waited ahead of newer work."""
        return await self.dataplane.stream_decode(
            audio, options, finishing=kind == FINAL, background=kind == PARTIAL, since=since
        )

    def try_admit(self, key: object, on_drain: DrainCallback) -> bool:
        """Register a stream; False when the server already has `max_streams` (of any
        protocol)."""
        if self.draining or len(self._open) >= self.limits.max_streams:
            return False
        self._open[key] = on_drain
        self.metrics.active_streams.set(len(self._open))
        return True

    def release(self, key: object, audio_seconds: float) -> None:
        if self._open.pop(key, None) is not None:
            self.metrics.active_streams.set(len(self._open))
            self.dataplane.account(audio_seconds)

    async def drain(self) -> None:
        """No new streams; finalise every open one and close it with 1001 (going away)."""
        self.draining = True
        callbacks = list(self._open.values())
        if callbacks:
            await asyncio.gather(*(cb() for cb in callbacks), return_exceptions=True)

    def close(self) -> None:
        """The server is stopping: no new streams (the open ones end with their connections)."""
        self.draining = True
