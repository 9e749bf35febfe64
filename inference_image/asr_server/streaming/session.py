"""One live stream: audio in, VAD-segmented utterances out as partial and final results.

`feed()` runs on the event loop for every frame (cheap: append, VAD, bookkeeping). Decoding
happens in one worker task per stream, so a stream never has more than one decode in flight:
finals are decoded first, in order, and a partial is only a wish (`_partial_wanted`) that is
coalesced until the worker is free. Under load a stream therefore gets fewer partials, never
a growing backlog, and the shared scheduler sees at most one request per stream.

A final's decode starts early: as soon as a pause has lasted the padding kept after speech
(0.2 s), the utterance as it would end there is decoded, while the endpointer still waits for
the rest of its 0.5 s of silence. If the pause ends the utterance, that decode is its final;
if the speaker goes on, it is dropped (or its result discarded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from asr_server.streaming.audio_buffer import AudioBuffer
from asr_server.streaming.crowd import FirstPartials, rest_after_partial
from asr_server.streaming.decoding import Decode, Emit, StreamDecoder, settle
from asr_server.streaming.protocol import Partial, StartMessage
from asr_server.streaming.quality import overran
from asr_server.streaming.utterance import Early, StreamSettings, Utterance
from asr_server.streaming.vad import Endpointer, SileroStream
from asr_server.types import SAMPLE_RATE, Audio, Transcription

log = logging.getLogger(__name__)

HELD_POLL_S = 0.05
"""How often a partial held back for other streams' first partials looks again."""


class StreamObserver(Protocol):
    """Where a session reports what metrics need (the hub's, streaming/hub.py)."""

    def first_partial(self, seconds: float) -> None: ...
    def final_latency(self, seconds: float) -> None: ...


class UtteranceEvents(Protocol):
    """Where a session tells its transport that an utterance opened or closed, at once (the
    OpenAI realtime transport's items, streaming/realtime/; /v1/stream needs none). Every
    utterance closed with `kept` True gets exactly one Final or one Error, in order."""

    def opened(self, segment_id: int, start: int) -> None: ...
    def closed(self, segment_id: int, end: int, kept: bool) -> None: ...


class StreamSession:
    def __init__(
        self,
        start: StartMessage,
        settings: StreamSettings,
        decode: Decode,
        emit: Emit,
        *,
        observer: StreamObserver | None = None,
        streams: Callable[[], int] = lambda: 1,
        first_partials: FirstPartials | None = None,
        language: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        events: UtteranceEvents | None = None,
    ) -> None:
        self.settings = settings
        self.interim = start.interim_results
        self.decoder = StreamDecoder(start, settings.quality, decode, emit, language)
        self.options = self.decoder.options
        self.partial_options = self.decoder.partial_options
        self._emit, self._observer, self._clock = emit, observer, clock
        self._events = events
        self._streams = streams
        self._first_partials = first_partials if first_partials is not None else FirstPartials()
        """Open streams on this server (the hub's count): partials thin out as it grows."""
        self._vad = SileroStream()
        self._endpointer = Endpointer(settings.endpoint)
        self._pad = int(settings.endpoint.pad_s * SAMPLE_RATE)
        self._onset_pad = int(settings.endpoint.onset_pad_s * SAMPLE_RATE)
        self._min_speech = int(settings.endpoint.min_speech_s * SAMPLE_RATE)
        self._max_utterance = int(settings.max_utterance_s * SAMPLE_RATE)
        self._partial_step = max(1, int(settings.partial_interval_s * SAMPLE_RATE))
        self._audio = AudioBuffer(clock)
        self._open_start: int | None = None  # start sample of the open utterance
        self._open_onset_at = 0.0
        self._next_segment_id = 0
        self._last_partial_at = 0  # stream sample when the last partial was requested
        self._partial_wanted = False
        self._finals: deque[Utterance] = deque()
        self._final_done_at = 0.0
        """Clock time the stream's last final was decided: its next one is due no earlier. A
        client sending audio faster than real time closes many utterances at once; due at
        their audio's arrival, the whole backlog would go ahead of everyone's newer work."""
        self._first_partial_seen = False  # of the stream (the observer's metric)
        self._utterance_partial_seen = False  # of the open utterance
        self._closing = False
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._partial_task: asyncio.Future[Transcription | None] | None = None
        self._next_partial_at = 0.0  # clock time before which no partial decode starts
        self._early: Early | None = None  # the open utterance as it would end in this pause

    # --- audio in ---------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="asr-stream-decoder")

    @property
    def total_samples(self) -> int:
        return self._audio.total

    @property
    def seconds(self) -> float:
        return self.total_samples / SAMPLE_RATE

    def feed(self, pcm: bytes) -> None:
        """Take one binary frame of PCM16 little-endian mono (odd bytes carry over)."""
        if self._closing:
            return
        samples = self._audio.append(pcm)
        if samples is not None:
            self._take(samples)

    def feed_samples(self, samples: Audio) -> None:
        """Take samples already at 16 kHz (a transport that resampled its input)."""
        if self._closing or not len(samples):
            return
        self._audio.extend(samples)
        self._take(samples)

    def _take(self, samples: Audio) -> None:
        for event in self._endpointer.update(self._vad.feed(samples)):
            if event.kind == "start":
                self._open(max(event.sample - self._onset_pad, self._audio.start))
            elif self._open_start is not None:
                self._close(min(event.sample + self._pad, self.total_samples), event.sample)
        if self._open_start is not None:
            while self.total_samples - self._open_start >= self._max_utterance:
                cut = self._open_start + self._max_utterance  # forced final, exactly at the limit
                self._close(cut, cut)
                self._open(cut)
            # Partials only while the speaker is talking: during a pause the text would not
            # change, and the decode would likely still run when the final is due.
            if (
                self.interim
                and self._endpointer.speaking
                and self.total_samples - self._last_partial_at >= self._partial_step
            ):
                self._last_partial_at = self.total_samples
                self._partial_wanted = True
                self._wake.set()
            self._update_early()
        else:
            self._trim(self.total_samples - self._onset_pad)

    def _update_early(self) -> None:
        """In a pause that has lasted the padding, wish the final's decode as it would end
        here; drop a wish or decode that no longer matches (the speaker went on)."""
        assert self._open_start is not None
        end = self._endpointer.last_speech_end + self._pad
        wanted = (
            self.settings.early_finals
            and self._endpointer.pausing
            and end <= self.total_samples
            and end - self._open_start >= self._min_speech
        )
        if self._early is not None and (
            not wanted or (self._early.start, self._early.end) != (self._open_start, end)
        ):
            self._early.cancel()
            self._early = None
        if wanted and self._early is None:
            speech_end = self._endpointer.last_speech_end
            self._early = Early(
                self._open_start,
                end,
                self._audio.slice(self._open_start, end),
                self._audio.arrival(speech_end),
            )
            # No new partial, and one in flight is dropped: still queued, it would hold this
            # stream's one decode slot and the final would wait for it (a running one cannot
            # be stopped, but its text is about to be superseded by the final).
            self._partial_wanted = False
            if self._partial_task is not None:
                self._partial_task.cancel()
            self._wake.set()

    def _open(self, start: int) -> None:
        self._open_start = start
        self._open_onset_at = self._clock()
        self._last_partial_at = start
        # Only the stream's first partial is foreground work: making every utterance's first
        # one foreground too cost finals 0.4-1.1 s at N=4-8 (the stream's slot was taken).
        self._utterance_partial_seen = False
        if self.interim:
            self._first_partials.waiting(self)
        if self._events is not None:
            self._events.opened(self._next_segment_id, start)

    def _close(self, end: int, speech_end: int) -> None:
        start, self._open_start = self._open_start, None
        self._first_partials.done(self)
        assert start is not None
        self._partial_wanted = False
        if self._partial_task is not None:
            # Finals first: a partial still queued in the scheduler would hold this stream's
            # one decode slot, so drop it (a running one finishes; its result is discarded).
            self._partial_task.cancel()
        early, self._early = self._early, None
        if early is not None and ((early.start, early.end) != (start, end)):
            early.cancel()
            early = None
        kept = end - start >= self._min_speech
        if self._events is not None:
            self._events.closed(self._next_segment_id, end, kept)
        if kept:
            audio = early.audio if early is not None else self._audio.slice(start, end)
            utt = Utterance(
                self._next_segment_id, start, end, audio, self._audio.arrival(speech_end), early
            )
            self._next_segment_id += 1
            self._finals.append(utt)
            self._wake.set()
        elif early is not None:
            early.cancel()
        self._trim(end)

    def _trim(self, keep_from: int) -> None:
        if self._open_start is not None:
            keep_from = min(keep_from, self._open_start)
        self._audio.trim(keep_from)

    # --- end of stream ----------------------------------------------------------------------

    @property
    def in_utterance(self) -> bool:
        """An utterance is open (speech heard and not yet finalised)."""
        return self._open_start is not None

    def end_utterance(self) -> None:
        """Finalise the open utterance now, as a pause there would have (a client's commit):
        in a pause it ends where its speech did; speech that goes on starts a new one."""
        if self._closing or self._open_start is None:
            return
        end = self._endpointer.last_speech_end + self._pad
        if self._endpointer.pausing and self._open_start < end <= self.total_samples:
            # Already in a pause: the utterance ends where its speech did, as if the pause
            # had gone on (and its early decode, if any, is its final).
            self._close(end, self._endpointer.last_speech_end)
        else:
            self._close(self.total_samples, self.total_samples)
        self._endpointer.reset()

    def drop_utterance(self) -> None:
        """Forget the open utterance without a final (a client's clear); its partial and
        early decodes are cancelled. No UtteranceEvents: the caller asked for it."""
        if self._closing or self._open_start is None:
            return
        self._open_start = None
        self._first_partials.done(self)
        self._partial_wanted = False
        if self._partial_task is not None:
            self._partial_task.cancel()
        if self._early is not None:
            self._early.cancel()
            self._early = None
        self._endpointer.reset()
        self._trim(self.total_samples)

    async def finish(self) -> None:
        """Finalise the open utterance, then wait until every final has been sent."""
        if not self._closing:
            self.end_utterance()
            self._closing = True
            self._first_partials.done(self)
            self._partial_wanted = False
            if self._early is not None:
                self._early.cancel()
                self._early = None
            self._wake.set()
        if self._worker is not None:
            await asyncio.shield(self._worker)

    async def abort(self) -> None:
        """Drop everything now (client gone): cancel the worker and any decode it awaits."""
        self._closing = True
        self._first_partials.done(self)
        for early in [self._early, *(utt.early for utt in self._finals)]:
            if early is not None:
                early.cancel()
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    # --- decoding ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            pause = self._next_partial_at - self._clock()
            if self._finals:
                await self._decode_final(self._finals.popleft())
            elif self._early is not None and self._early.task is None:
                await self._decode_early(self._early)
            elif (
                self._partial_wanted
                and self._open_start is not None
                and pause <= 0
                and not self._held()
            ):
                self._partial_wanted = False
                started = self._clock()
                await self._decode_partial()
                took = self._clock() - started
                rest = rest_after_partial(took, self._streams(), self._first_partial_seen)
                self._next_partial_at = self._clock() + rest
            elif self._closing:
                return
            else:
                timeout = None
                if self._partial_wanted and self._open_start is not None:
                    timeout = HELD_POLL_S if pause <= 0 else pause  # held back: look again
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()

    def _held(self) -> bool:
        """A later partial waits while another stream awaits its utterance's first one."""
        return self._utterance_partial_seen and self._first_partials.others_waiting(self)

    async def _decode_early(self, early: Early) -> None:
        """Decode the utterance as it would end in this pause; the worker waits for it (one
        decode in flight per stream) unless the speaker goes on, which cancels it."""
        since = max(early.since, self._final_done_at)
        early.task = asyncio.ensure_future(self.decoder.speculate(early.audio, since))
        await settle(early.task)

    async def _decode_final(self, utt: Utterance) -> None:
        early = None
        task = utt.early.task if utt.early is not None else None
        if task is not None:
            await settle(task, wait_cancelled=False)
            early = None if task.cancelled() else task.result()
        since = max(utt.closed_at, self._final_done_at)
        result = await self.decoder.final(utt.audio, early, since)
        self._final_done_at = self._clock()
        if result is None:
            return
        await self._emit(utt.final_message(result))
        if self._observer is not None:
            self._observer.final_latency(self._clock() - utt.closed_at)

    async def _decode_partial(self) -> None:
        start, segment_id = self._open_start, self._next_segment_id
        assert start is not None
        end = self.total_samples
        audio, first = self._audio.slice(start, end), not self._first_partial_seen
        # Due now, not at the onset: a first partial that came back empty is tried again with
        # more audio, and an old `since` would put every retry ahead of other streams' finals.
        task = asyncio.ensure_future(self.decoder.partial(audio, first, self._clock()))
        self._partial_task = task
        try:
            await settle(task)
        finally:
            self._partial_task = None
        # Cancelled or stale when the utterance closed meanwhile: its final supersedes it.
        if task.cancelled() or self._open_start != start or self._closing:
            return
        result = task.result()
        if result is None or overran(result):  # best-effort: skip, the final will be right
            return
        text = result.text.strip()
        if not text:
            return
        await self._emit(
            Partial(text, segment_id, round(start / SAMPLE_RATE, 3), round(end / SAMPLE_RATE, 3))
        )
        self._utterance_partial_seen = True
        self._first_partials.done(self)
        if not self._first_partial_seen:
            self._first_partial_seen = True
            if self._observer is not None:
                self._observer.first_partial(self._clock() - self._open_onset_at)
