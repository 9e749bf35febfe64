"""Prometheus metrics of one server instance (prefix `asr_`).

Each app gets its own `CollectorRegistry` (via `Metrics.create()`), so tests can build many
apps in one process and `/metrics` shows only this app's series. The streaming routes use the
`stream_*` members defined here, labelled by `protocol` (`stream` for `GET /v1/stream`,
`realtime` for OpenAI's `GET /v1/realtime`), and `active_streams`, the open sessions of both
(what `ASR_MAX_STREAMS` limits).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
_RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STREAM_PROTOCOLS = ("stream", "realtime")
"""The `protocol` label of the streaming metrics: /v1/stream, /v1/realtime."""


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests_total: Counter
    """Finished HTTP requests by route (the route's path pattern) and status code; a client
    that went away before its answer is code 499 (nothing was sent), never a 5xx."""
    request_duration_seconds: Histogram
    """HTTP request latency by route (WebSocket streams are not requests: their latency is
    the stream_* histograms')."""
    audio_seconds_total: Counter
    """Seconds of audio recognised (HTTP and streams)."""
    realtime_factor: Histogram
    """Processing seconds per second of audio, per request (lower is faster)."""
    inflight_requests: Gauge
    """API requests being handled now (the HPA's pods metric)."""
    queue_depth: Gauge
    """Requests admitted and waiting for a decode worker."""
    batch_size: Histogram
    """Requests decoded together in one engine call."""
    queue_wait_seconds: Histogram
    """Time from admission to the start of the request's decode."""
    cancelled_requests_total: Counter
    """Admitted work not decoded, by reason: `cancelled` (its requester gave up: an HTTP
    client that disconnected, a stream that ended) or `deadline` (request_timeout_s passed
    while it waited)."""
    saturated: Gauge
    """1 while the next request would get 429 with Retry-After (the queue is full, or the work
    ahead would put its result past request_timeout_s), else 0."""
    request_body_bytes: Gauge
    """Bytes of request bodies held now (what requests in progress are charged; at most
    ASR_MAX_BODIES_MB)."""
    open_connections: Gauge
    """Open TCP connections (HTTP and streams), at most ASR_MAX_CONNECTIONS."""
    refused_connections_total: Counter
    """Connections answered 503 `too_many_connections` (over ASR_MAX_CONNECTIONS)."""
    model_load_seconds: Gauge
    cache_hits_total: Counter
    cache_misses_total: Counter
    stream_first_partial_seconds: Histogram
    """Streaming: time from the onset of a stream's first utterance (when its speech frame
    arrived) to the first partial result (realtime: the first transcript delta): what a live
    caption's user waits for."""
    stream_final_latency_seconds: Histogram
    """Streaming: time from the end of a segment's audio to its final result (realtime: its
    completed transcript)."""
    active_streams: Gauge

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry(auto_describe=True)
        metrics = cls(
            registry=reg,
            requests_total=Counter(
                "asr_requests_total", "HTTP requests handled", ["route", "code"], registry=reg
            ),
            request_duration_seconds=Histogram(
                "asr_request_duration_seconds",
                "HTTP request duration",
                ["route"],
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            audio_seconds_total=Counter(
                "asr_audio_seconds_total", "Seconds of audio recognised", registry=reg
            ),
            realtime_factor=Histogram(
                "asr_realtime_factor",
                "Processing time divided by audio duration",
                buckets=_RTF_BUCKETS,
                registry=reg,
            ),
            inflight_requests=Gauge(
                "asr_inflight_requests", "API requests in progress", registry=reg
            ),
            queue_depth=Gauge("asr_queue_depth", "Requests waiting for a decode", registry=reg),
            batch_size=Histogram(
                "asr_batch_size", "Requests per engine batch", buckets=_BATCH_BUCKETS, registry=reg
            ),
            queue_wait_seconds=Histogram(
                "asr_queue_wait_seconds",
                "Time from admission to decode start",
                buckets=_WAIT_BUCKETS,
                registry=reg,
            ),
            cancelled_requests_total=Counter(
                "asr_cancelled_requests_total",
                "Admitted work dropped before decoding",
                ["reason"],
                registry=reg,
            ),
            saturated=Gauge("asr_saturated", "1 while new requests get 429", registry=reg),
            request_body_bytes=Gauge(
                "asr_request_body_bytes", "Bytes of request bodies held", registry=reg
            ),
            open_connections=Gauge("asr_open_connections", "Open TCP connections", registry=reg),
            refused_connections_total=Counter(
                "asr_refused_connections_total",
                "Connections refused over max_connections",
                registry=reg,
            ),
            model_load_seconds=Gauge(
                "asr_model_load_seconds", "Seconds the model took to load", registry=reg
            ),
            cache_hits_total=Counter("asr_cache_hits_total", "Result-cache hits", registry=reg),
            cache_misses_total=Counter(
                "asr_cache_misses_total", "Result-cache misses", registry=reg
            ),
            stream_first_partial_seconds=Histogram(
                "asr_stream_first_partial_seconds",
                "Streaming: speech onset of the first utterance to its first partial",
                ["protocol"],
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            stream_final_latency_seconds=Histogram(
                "asr_stream_final_latency_seconds",
                "Streaming: end of segment audio to its final result",
                ["protocol"],
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            active_streams=Gauge("asr_active_streams", "Open streaming sessions", registry=reg),
        )
        for protocol in STREAM_PROTOCOLS:  # every series on /metrics from the start
            metrics.stream_first_partial_seconds.labels(protocol)
            metrics.stream_final_latency_seconds.labels(protocol)
        return metrics
