"""The server's budget for request bodies: bytes held at once, summed over every API request.

`ASR_MAX_BODY_MB` bounds one body and `ASR_MAX_CONNECTIONS` the connections, but their product
(6.4 GB with the defaults) is what hostile clients could make a pod hold. The middleware
charges each request with a body its declared size (`Content-Length`, at most the body limit;
a body without one is charged the whole limit, as it may grow to it) from before its first
byte is read until its answer: the body and what is parsed from it live that long. A request
that would pass `ASR_MAX_BODIES_MB` gets 429 `bodies_full` with Retry-After before anything
is read, so the memory of bodies stays within the budget whatever the clients send.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Gauge

from asr_server import errors

RETRY_AFTER_S = 1.0
"""Bodies are held for a request's lifetime: seconds, typically."""


class BodyBudget:
    def __init__(self, limit_bytes: int, body_limit_bytes: int, gauge: Gauge) -> None:
        self.limit_bytes = limit_bytes
        self.body_limit_bytes = body_limit_bytes
        """One body's limit (ASR_MAX_BODY_MB): what a body of unknown size is charged."""
        self.held_bytes = 0
        self._gauge = gauge

    def charge_for(self, content_length: int | None) -> int:
        """What a body declaring `content_length` (None: chunked) is charged."""
        if content_length is None:
            return self.body_limit_bytes
        return min(content_length, self.body_limit_bytes)

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """`size` bytes of the budget for the block; BodiesFull at once when they do not fit."""
        if self.held_bytes + size > self.limit_bytes:
            raise errors.BodiesFull(
                f"the server holds {self.held_bytes / 2**20:.0f} MB of request bodies and this "
                f"one ({size / 2**20:.1f} MB) would pass its budget of "
                f"{self.limit_bytes / 2**20:g} MB (max_bodies_mb); retry shortly or on another "
                "replica",
                retry_after=RETRY_AFTER_S,
            )
        self.held_bytes += size
        self._gauge.set(self.held_bytes)
        try:
            yield
        finally:
            self.held_bytes -= size
            self._gauge.set(self.held_bytes)
