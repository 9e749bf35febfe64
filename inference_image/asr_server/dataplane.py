"""The data plane: what every transport does with audio, in one place and without a transport.

The HTTP routes, the WebSocket stream hub and the `asr-server transcribe` CLI all call this
(transports -> DataPlane -> scheduler -> engine): decode the bytes off the event loop (refused
early when the scheduler would refuse the work anyway), look in the result cache, schedule the
decode, and account for the audio recognised. Nothing here knows aiohttp, WebSockets or
argparse; what a transport adds is its own wire format and limits.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from asr_server.audio import decode_audio, pcm16_to_audio
from asr_server.batching import resolve_settings
from asr_server.cache import ResultCache, cache_key
from asr_server.config import ServerConfig
from asr_server.engines.base import ASREngine, Progress
from asr_server.metrics import Metrics
from asr_server.scheduler import Scheduler
from asr_server.types import Audio, TranscribeOptions, Transcription


@dataclass(frozen=True)
class Limits:
    """What a transport's work may take; None: no limit."""

    max_audio_seconds: float | None
    """Longest audio decoded (BadAudio `audio_too_long` beyond)."""
    request_timeout_s: float | None
    """Longest a piece of work may wait and decode (RequestTimeout beyond)."""

    @classmethod
    def of(cls, config: ServerConfig) -> Limits:
        """The server's limits (ASR_MAX_AUDIO_SECONDS, ASR_REQUEST_TIMEOUT_S)."""
        return cls(config.max_audio_seconds, config.request_timeout_s)


OFFLINE = Limits(max_audio_seconds=None, request_timeout_s=None)
"""The CLI's: a local file of any length, for as long as it takes."""


@dataclass
class Usage:
    """What one transport call (an HTTP request, a CLI run) has recognised so far."""

    audio_seconds: float = 0.0


class DataPlane:
    """Decode -> cache -> schedule -> account, for one engine, within `limits` (default: the
    configuration's)."""

    def __init__(
        self,
        config: ServerConfig,
        engine: ASREngine,
        metrics: Metrics,
        limits: Limits | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.metrics = metrics
        self.limits = limits or Limits.of(config)
        self.cache = ResultCache(config.cache_entries, metrics)
        self.scheduler = Scheduler(
            engine,
            max_queue=config.max_queue,
            request_timeout_s=self.limits.request_timeout_s,
            metrics=metrics,
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> float:
        """Load the engine (in a thread: it blocks for seconds) and start the decode workers
        sized for it; returns the seconds the load took. Raises what the load raised."""
        started = time.perf_counter()
        if not self.engine.ready:
            await asyncio.to_thread(self.engine.load)
        seconds = time.perf_counter() - started
        self.metrics.model_load_seconds.set(seconds)
        self.scheduler.start(resolve_settings(self.config, self.engine))
        return seconds

    async def stop(self) -> None:
        """Stop the decode workers; work still queued gets `Draining`."""
        await self.scheduler.stop()

    # -- audio in -------------------------------------------------------------------------

    def refuse_early(self) -> None:
        """Fail fast, before spending CPU on decoding audio the scheduler would refuse anyway.

        Draining is not checked here: a transport refuses work that arrives after SIGTERM
        (the HTTP middleware), and work that arrived before it is in flight and must finish
        (docs/architecture.md, "An HTTP request")."""
        self.scheduler.check_admission(finishing=True)

    async def decode(self, data: bytes) -> Audio:
        """Any container PyAV reads -> 16 kHz mono float32, in a thread (raises BadAudio)."""
        self.refuse_early()
        return await asyncio.to_thread(
            decode_audio, data, max_seconds=self.limits.max_audio_seconds
        )

    async def decode_pcm16(self, data: bytes, sample_rate: int, channels: int) -> Audio:
        """Raw little-endian PCM16 -> 16 kHz mono float32, in a thread (raises BadAudio)."""
        self.refuse_early()
        return await asyncio.to_thread(
            pcm16_to_audio,
            data,
            sample_rate,
            channels=channels,
            max_seconds=self.limits.max_audio_seconds,
        )

    # -- recognition ----------------------------------------------------------------------

    async def transcribe(
        self,
        audio: Audio,
        options: TranscribeOptions,
        *,
        usage: Usage | None = None,
        progress: Progress | None = None,
    ) -> Transcription:
        """A request's result: from the cache, or a scheduled decode (then cached); its audio
        is added to `usage` and to the recognised-audio metric."""
        options = self.with_defaults(options)
        cache = self.cache
        # hashing 10 minutes of samples takes tens of ms: not on the event loop
        key = await asyncio.to_thread(cache_key, audio, options) if cache.enabled else ""
        result = cache.get(key) if cache.enabled else None
        if result is None:
            # finishing: the transport admitted this request before any drain began, so a
            # SIGTERM that arrives while its audio was still decoding must not turn it into a 503
            result = await self.scheduler.submit(audio, options, finishing=True, progress=progress)
            cache.put(key, result)
        self.account(result.duration, usage)
        return result

    async def stream_decode(
        self,
        audio: Audio,
        options: TranscribeOptions,
        *,
        finishing: bool,
        background: bool,
        since: float,
    ) -> Transcription:
        """One decode of a live stream (streaming/hub.py says which kind gets which flags).
        Not cached: a stream's audio is never sent twice, and its partials would evict the
        results that requests do repeat. Not accounted here: a stream's audio counts once,
        when it ends (StreamHub.release), not once per partial."""
        return await self.scheduler.submit(
            audio,
            self.with_defaults(options),
            finishing=finishing,
            background=background,
            since=since,
        )

    def with_defaults(self, options: TranscribeOptions) -> TranscribeOptions:
        """What a transport left unset, from the server's settings (ASR_BEAM_SIZE), before the
        options key the cache and the batches: a request that names the default beam and one
        that names none are the same work."""
        return options.with_defaults(beam_size=self.config.beam_size)

    def account(self, seconds: float, usage: Usage | None = None) -> None:
        """Seconds of audio recognised: the metric, and the caller's usage when given."""
        self.metrics.audio_seconds_total.inc(seconds)
        if usage is not None:
            usage.audio_seconds += seconds
