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
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from asr_server.engines.base import SAMPLE_RATE, Audio, TranscribeOptions, Transcription
from asr_server.streaming.protocol import Error, Final, Partial, ServerMessage, StartMessage
from asr_server.streaming.quality import acceptable, overran
from asr_server.streaming.vad import Endpointer, EndpointSettings, SileroStream

log = logging.getLogger(__name__)

FINAL, FIRST_PARTIAL, PARTIAL = "final", "first_partial", "partial"
"""Kinds of decode, in the priority the scheduler gives them (routes/stream.py): a final and
the stream's first partial are foreground work, later partials background work."""
Decode = Callable[[Audio, TranscribeOptions, str], Awaitable[Transcription]]
"""(audio, options, kind) -> result; the shared scheduler in production."""
Emit = Callable[[ServerMessage], Awaitable[None]]


class StreamObserver(Protocol):
    """Where a session reports what metrics need (see routes/stream.py)."""

    def first_partial(self, seconds: float) -> None: ...
    def final_latency(self, seconds: float) -> None: ...


MAX_CONTEXT_CHARS = 200
"""Of the previous final, given as the prompt of a final's second chance (Whisper keeps at
most 223 prompt tokens)."""


@dataclass(frozen=True)
class StreamSettings:
    partial_interval_s: float = 0.5
    """New audio in the open utterance between two partial decodes."""
    max_utterance_s: float = 20.0
    """An utterance this long is cut and finalised even without a pause (Whisper sees 30 s)."""
    encoder_context: str | None = "trimmed"
    """Encoder context of every decode of the stream (TranscribeOptions.encoder_context): an
    utterance is at most 30 s and usually a few seconds, so the full 30 s window would be
    mostly padding; a trimmed decode failing Whisper's checks is retried with the full one."""
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)


@dataclass
class _Early:
    """A final decoded before the endpointer confirmed the end (see the module docstring)."""

    start: int
    end: int
    audio: Audio
    task: asyncio.Future[Transcription | None] | None = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


@dataclass(frozen=True)
class _Utterance:
    segment_id: int
    start: int
    """Absolute sample offset in the stream."""
    end: int
    audio: Audio
    closed_at: float
    """Clock time the audio at `end` arrived: the end of speech as the client lived it."""
    early: _Early | None = None
    """The early decode of exactly this audio, when one was started."""


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
        language: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.interim = start.interim_results
        # Finals get Whisper's full treatment: with the full context, one decode with the
        # temperature fallback. With the trimmed context, first one greedy pass (the options
        # of partials too); only a result that fails Whisper's checks or overruns its audio
        # (quality.py) is decoded again, with the full context and the fallback, as a new
        # request: the engine would do the same retry inside the batch, where every other
        # stream's final in that batch would wait for it.
        self.full_options = TranscribeOptions(
            language=start.language or language,
            hotwords=start.hotwords,
            prompt=start.prompt,
            encoder_context="full",
        )
        self.options = dataclasses.replace(
            self.full_options,
            encoder_context=settings.encoder_context,
            fallback=settings.encoder_context == "full",
        )
        # A partial is best-effort: one greedy pass. Whisper's temperature fallback would
        # retry mid-word audio (which often "fails" its checks) up to 5 more times, and a
        # final arriving meanwhile waits for all of them.
        self.partial_options = dataclasses.replace(self.options, fallback=False)
        self._decode, self._emit, self._observer, self._clock = decode, emit, observer, clock
        self._streams = streams
        """Open streams on this server (the hub's count): partials thin out as it grows."""
        self._vad = SileroStream()
        self._endpointer = Endpointer(settings.endpoint)
        self._pad = int(settings.endpoint.pad_s * SAMPLE_RATE)
        self._min_speech = int(settings.endpoint.min_speech_s * SAMPLE_RATE)
        self._max_utterance = int(settings.max_utterance_s * SAMPLE_RATE)
        self._partial_step = max(1, int(settings.partial_interval_s * SAMPLE_RATE))
        # The kept audio: samples [_buffer_start, total_samples) of the stream.
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0
        self.total_samples = 0
        self._leftover = b""
        self._arrivals: deque[tuple[int, float]] = deque()  # (end sample, clock) per frame
        self._open_start: int | None = None  # start sample of the open utterance
        self._open_onset_at = 0.0
        self._next_segment_id = 0
        self._last_partial_at = 0  # stream sample when the last partial was requested
        self._partial_wanted = False
        self._finals: deque[_Utterance] = deque()
        self._first_partial_seen = False
        self._closing = False
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._partial_task: asyncio.Future[Transcription | None] | None = None
        self._next_partial_at = 0.0  # clock time before which no partial decode starts
        self._early: _Early | None = None  # the open utterance as it would end in this pause
        self._previous_text = ""  # the last final's text: context for a second chance

    # --- audio in ---------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="asr-stream-decoder")

    @property
    def seconds(self) -> float:
        return self.total_samples / SAMPLE_RATE

    def feed(self, pcm: bytes) -> None:
        """Take one binary frame of PCM16 little-endian mono (odd bytes carry over)."""
        if self._closing:
            return
        data = self._leftover + pcm
        usable = len(data) - len(data) % 2
        self._leftover = data[usable:]
        if usable == 0:
            return
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
        self.total_samples += len(samples)
        self._buffer = np.concatenate([self._buffer, samples])
        self._arrivals.append((self.total_samples, self._clock()))
        for event in self._endpointer.update(self._vad.feed(samples)):
            if event.kind == "start":
                self._open(max(event.sample - self._pad, self._buffer_start))
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
            self._trim(self.total_samples - self._pad)

    def _update_early(self) -> None:
        """In a pause that has lasted the padding, wish the final's decode as it would end
        here; drop a wish or decode that no longer matches (the speaker went on)."""
        assert self._open_start is not None
        end = self._endpointer.last_speech_end + self._pad
        wanted = (
            self._endpointer.pausing
            and end <= self.total_samples
            and end - self._open_start >= self._min_speech
        )
        if self._early is not None and (
            not wanted or (self._early.start, self._early.end) != (self._open_start, end)
        ):
            self._early.cancel()
            self._early = None
        if wanted and self._early is None:
            self._early = _Early(self._open_start, end, self._slice(self._open_start, end))
            # No new partial; one in flight is left to finish (the speaker may go on, and a
            # running decode cannot be stopped anyway): the utterance's close cancels it.
            self._partial_wanted = False
            self._wake.set()

    def _open(self, start: int) -> None:
        self._open_start = start
        self._open_onset_at = self._clock()
        self._last_partial_at = start

    def _close(self, end: int, speech_end: int) -> None:
        start, self._open_start = self._open_start, None
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
        if end - start >= self._min_speech:
            audio = early.audio if early is not None else self._slice(start, end)
            utt = _Utterance(
                self._next_segment_id, start, end, audio, self._arrival(speech_end), early
            )
            self._next_segment_id += 1
            self._finals.append(utt)
            self._wake.set()
        elif early is not None:
            early.cancel()
        self._trim(end)

    def _slice(self, start: int, end: int) -> Audio:
        return self._buffer[start - self._buffer_start : end - self._buffer_start].copy()

    def _trim(self, keep_from: int) -> None:
        keep_from = max(keep_from, self._buffer_start)
        if self._open_start is not None:
            keep_from = min(keep_from, self._open_start)
        self._buffer = self._buffer[keep_from - self._buffer_start :]
        self._buffer_start = keep_from
        while len(self._arrivals) > 1 and self._arrivals[0][0] <= keep_from:
            self._arrivals.popleft()

    def _arrival(self, sample: int) -> float:
        """When the frame holding `sample` arrived (now if it is no longer remembered)."""
        for end, at in self._arrivals:
            if end >= sample:
                return at
        return self._clock()

    # --- end of stream ----------------------------------------------------------------------

    async def finish(self) -> None:
        """Finalise the open utterance, then wait until every final has been sent."""
        if not self._closing:
            if self._open_start is not None:
                end = self._endpointer.last_speech_end + self._pad
                if self._endpointer.pausing and self._open_start < end <= self.total_samples:
                    # Already in a pause: the utterance ends where its speech did, as if the
                    # pause had gone on (and its early decode, if any, is its final).
                    self._close(end, self._endpointer.last_speech_end)
                else:
                    self._close(self.total_samples, self.total_samples)
            self._closing = True
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
            elif self._partial_wanted and self._open_start is not None and pause <= 0:
                self._partial_wanted = False
                started = self._clock()
                await self._decode_partial()
                # Rest after a partial in proportion to what it took (queueing included) and
                # to the open streams: the partials of all streams together then use at most
                # about half of the decode time, whatever their number, so finals find the
                # server free under load. A lone stream rests as long as its partial took,
                # and so does one whose first partial has not been shown yet (it came back
                # empty or overran): the first partial must stay fast.
                took = self._clock() - started
                crowd = 2 * max(1, self._streams()) - 1 if self._first_partial_seen else 1
                self._next_partial_at = self._clock() + took * crowd
            elif self._closing:
                return
            else:
                timeout = pause if self._partial_wanted and self._open_start is not None else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()

    async def _decode_early(self, early: _Early) -> None:
        """Decode the utterance as it would end in this pause; the worker waits for it (one
        decode in flight per stream) unless the speaker goes on, which cancels it."""

        async def speculate() -> Transcription | None:
            try:
                return await self._decode(early.audio, self.options, FINAL)
            except asyncio.CancelledError:
                raise
            except Exception:  # the final's own decode reports errors
                return None

        early.task = asyncio.ensure_future(speculate())
        try:
            await asyncio.wait([early.task])
        finally:
            if not early.task.done():  # the worker itself was cancelled (client gone)
                early.task.cancel()
                await asyncio.wait([early.task])

    async def _decode_final(self, utt: _Utterance) -> None:
        result = None
        task = utt.early.task if utt.early is not None else None
        if task is not None:
            try:
                await asyncio.wait([task])
            finally:
                if not task.done():  # the worker itself was cancelled (client gone)
                    task.cancel()
            result = None if task.cancelled() else task.result()
        if result is None:
            result = await self._try_decode(utt.audio, final=True)
        if result is not None and self.options != self.full_options and not acceptable(result):
            result = await self._second_chance(utt.audio)
        if result is None:
            return
        self._previous_text = result.text.strip() or self._previous_text
        await self._emit(
            Final(
                text=result.text.strip(),
                segment_id=utt.segment_id,
                start=round(utt.start / SAMPLE_RATE, 3),
                end=round(utt.end / SAMPLE_RATE, 3),
                confidence=round(result.confidence, 4),
            )
        )
        if self._observer is not None:
            self._observer.final_latency(self._clock() - utt.closed_at)

    async def _second_chance(self, audio: Audio) -> Transcription | None:
        """A one-pass final failed the checks. Whisper decodes a window knowing the text
        before it (condition_on_previous_text), an utterance decoded alone does not: first try
        the trimmed context again with the stream's previous final as the prompt (tiny.en's
        isolated "Ask not!" goes from "S NOT!", log-probability -1.05, to "Ask not!", -0.62),
        then the full window with the temperature fallback (about 5 times the cost)."""
        if self._previous_text:
            context = self._previous_text[-MAX_CONTEXT_CHARS:]
            prompt = f"{self.options.prompt} {context}" if self.options.prompt else context
            options = dataclasses.replace(self.options, prompt=prompt)
            result = await self._try_decode(audio, final=True, options=options)
            if result is not None and acceptable(result):
                return result
        log.info("stream final failed the checks; decoding it with the full context")
        return await self._try_decode(audio, final=True, options=self.full_options)

    async def _decode_partial(self) -> None:
        start, segment_id = self._open_start, self._next_segment_id
        assert start is not None
        end = self.total_samples
        task = asyncio.ensure_future(
            self._try_decode(
                self._slice(start, end), final=False, first=not self._first_partial_seen
            )
        )
        self._partial_task = task
        try:
            await asyncio.wait([task])
        finally:
            self._partial_task = None
            if not task.done():  # the worker itself was cancelled (client gone)
                task.cancel()
                await asyncio.wait([task])
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
        if not self._first_partial_seen:
            self._first_partial_seen = True
            if self._observer is not None:
                self._observer.first_partial(self._clock() - self._open_onset_at)

    async def _try_decode(
        self,
        audio: Audio,
        *,
        final: bool,
        first: bool = False,
        options: TranscribeOptions | None = None,
    ) -> Transcription | None:
        """Decode; a refused or failed partial is skipped, a failed final is reported."""
        try:
            if final:
                return await self._decode(audio, options or self.options, FINAL)
            return await self._decode(
                audio, self.partial_options, FIRST_PARTIAL if first else PARTIAL
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the scheduler's domain errors and EngineError
            code = str(getattr(exc, "code", "decode_failed"))
            log.warning("stream %s decode failed: %s", "final" if final else "partial", exc)
            if final:
                await self._emit(Error(code, f"utterance not transcribed: {exc}"))
            return None
