"""The realtime session: OpenAI's input audio buffer and conversation items on top of the
server's `StreamSession` (VAD, endpointing, the per-stream decode worker, the shared scheduler).

Items. An item's id exists from the moment its speech starts (`speech_started` announces it
in server_vad mode), so its deltas may come before its `committed`. With `server_vad` an item
is one utterance: the endpointer's pause (or the 20 s forced cut) commits it, and a client's
commit cuts it where it is. With `turn_detection: null` pauses end nothing: an item is every
utterance between two client commits (one, unless it ran past the forced cut). Items complete
in commit order; an item whose decode failed gets `...failed` instead of `...completed`.

Audio. Appends are PCM16 mono at the session's rate (24 kHz by default), resampled to 16 kHz
with FFmpeg's resampler (stateful, so chunking changes nothing) and fed to the stream as
samples. "The buffer" is the audio appended since the last commit or clear; a commit of less
than 100 ms is an error (`input_audio_buffer_commit_empty`, as OpenAI). The VAD trims silence
before speech, so a committed buffer without speech completes with an empty transcript.

A session.update that changes how audio is transcribed (rate, language, prompt, keywords,
turn detection) starts a new StreamSession for the audio after it; the previous one finishes
its committed items. It is refused while the buffer holds uncommitted speech.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np

from asr_server.streaming.hub import StreamHub
from asr_server.streaming.protocol import Error, Final, Partial, ServerMessage
from asr_server.streaming.realtime.config import SessionConfig
from asr_server.streaming.realtime.deltas import StableText
from asr_server.streaming.realtime.events import RealtimeError, Shape
from asr_server.streaming.realtime.server_events import ServerEvents, new_id
from asr_server.streaming.session import StreamObserver, StreamSession
from asr_server.types import SAMPLE_RATE, Audio

MIN_COMMIT_MS = 100
"""OpenAI refuses to commit less audio than this."""

Post = Callable[[str], None]
"""Queue one server event (JSON) for the client, in order."""


class PcmInput:
    """PCM16 little-endian mono bytes at `rate` -> 16 kHz float32 samples, chunk by chunk."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._leftover = b""
        self._resampler = (
            None
            if rate == SAMPLE_RATE
            else av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def push(self, pcm: bytes) -> Audio:
        data = self._leftover + pcm
        usable = len(data) - len(data) % 2
        self._leftover = data[usable:]
        pcm16 = np.frombuffer(data[:usable], dtype="<i2")
        if self._resampler is None or not len(pcm16):
            samples: Audio = pcm16.astype(np.float32) / np.float32(32768.0)
            return samples
        frame = av.AudioFrame.from_ndarray(pcm16.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        parts = [out.to_ndarray()[0] for out in self._resampler.resample(frame)]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        joined: Audio = np.concatenate(parts).astype(np.float32, copy=False)
        return joined


@dataclass
class _Item:
    id: str
    agreement: int | None
    """Of its deltas (SessionConfig's transcription delay)."""
    text: str = ""
    """The completed transcripts of its utterances so far (= every delta sent for it)."""
    pending: int = 0
    """Its utterances awaiting their final."""
    seconds: float = 0.0
    committed: bool = False
    discarded: bool = False
    """Cleared before it was committed: its late finals are dropped."""
    failure: tuple[str, str] | None = None
    """(code, message) of a final that could not be decoded."""
    started_at: float = field(default_factory=time.monotonic)
    """When its speech was heard (the first delta's latency)."""


@dataclass
class _Utterance:
    item: _Item
    start: int
    stable: StableText | None = None

    def text(self) -> StableText:
        """Its deltas; the first utterance of an item starts it, a later one adds a space."""
        if self.stable is None:
            agreement = self.item.agreement
            self.stable = StableText(agreement, lead=" " if self.item.text else "")
        return self.stable


class _FinalsOnly:
    """The hub's observer for the session's final latency; its first partial is not what a
    realtime client sees first (the first delta is, reported by RealtimeSession)."""

    def __init__(self, observer: StreamObserver) -> None:
        self._observer = observer

    def first_partial(self, seconds: float) -> None:
        pass

    def final_latency(self, seconds: float) -> None:
        self._observer.final_latency(seconds)


class _Lane:
    """One StreamSession and the utterances it owes finals for."""

    def __init__(self, owner: RealtimeSession, config: SessionConfig, base: int) -> None:
        hub = owner.hub
        self.owner = owner
        self.base = base
        """Stream samples fed to earlier lanes: this lane's offsets start there."""
        self.open: _Utterance | None = None
        self.awaiting: deque[_Utterance] = deque()
        self.stream = StreamSession(
            config.start_message(hub.language),
            config.stream_settings(hub.limits.session),
            hub.decode,
            self.emit,
            observer=_FinalsOnly(owner.observer),
            language=hub.language,
            streams=lambda: hub.active,
            first_partials=hub.first_partials,
            events=self,
        )
        self.stream.start()

    def ms(self, sample: int) -> int:
        return round((self.base + sample) * 1000 / SAMPLE_RATE)

    # UtteranceEvents (called synchronously from StreamSession.feed / end_utterance)

    def opened(self, segment_id: int, start: int) -> None:
        self.open = _Utterance(self.owner.item_for_speech(self.ms(start)), start)

    def closed(self, segment_id: int, end: int, kept: bool) -> None:
        utterance, self.open = self.open, None
        if utterance is None:
            return
        if kept:
            utterance.item.pending += 1
            utterance.item.seconds += (end - utterance.start) / SAMPLE_RATE
            self.awaiting.append(utterance)
        self.owner.utterance_closed(utterance.item, self.ms(end))

    # Emit (the stream's partials, finals and failed finals)

    async def emit(self, message: ServerMessage) -> None:
        if isinstance(message, Partial):
            if self.open is not None and not self.open.item.discarded:
                self.owner.deltas(self.open.item, self.open.text().partial(message.text))
        elif isinstance(message, Final):
            utterance = self.awaiting.popleft()
            last, transcript = utterance.text().final(message.text)
            self.owner.deltas(utterance.item, last)
            utterance.item.text += transcript
            self.owner.utterance_done(utterance.item)
        elif isinstance(message, Error):
            utterance = self.awaiting.popleft()
            utterance.item.failure = (message.code, message.message)
            self.owner.utterance_done(utterance.item)


class RealtimeSession:
    """The input audio buffer and items of one realtime connection."""

    def __init__(self, hub: StreamHub, config: SessionConfig, shape: Shape, post: Post) -> None:
        self.hub = hub
        self.config = config
        self.shape = shape
        self.observer = hub.observer("realtime")
        self.events = ServerEvents(new_id("sess"))
        self._post = post
        self._input = PcmInput(config.input_rate)
        self._lane = _Lane(self, config, 0)
        self._retired: list[asyncio.Task[None]] = []
        self._retired_seconds = 0.0
        self._current: _Item | None = None
        """The item the buffer's speech belongs to, until it is committed."""
        self._completing: deque[_Item] = deque()
        self._last_committed: str | None = None
        self._uncommitted = 0
        """16 kHz samples appended since the last commit or clear."""
        self._client_commit = False
        self._first_delta_seen = False
        post(self.events.session_created(config, shape))

    @property
    def seconds(self) -> float:
        return self._retired_seconds + self._lane.stream.seconds

    # --- client events --------------------------------------------------------------------

    def append(self, pcm: bytes) -> None:
        samples = self._input.push(pcm)
        self._uncommitted += len(samples)
        self._lane.stream.feed_samples(samples)

    def commit(self, event_id: str | None) -> None:
        buffered_ms = self._uncommitted * 1000 / SAMPLE_RATE
        if buffered_ms < MIN_COMMIT_MS:
            raise RealtimeError(
                f"the input audio buffer holds {buffered_ms:.0f} ms of audio; a commit needs at "
                f"least {MIN_COMMIT_MS} ms",
                code="input_audio_buffer_commit_empty",
                event_id=event_id,
            )
        self._client_commit = True
        try:
            self._lane.stream.end_utterance()  # with server_vad this commits its item
        finally:
            self._client_commit = False
        if self._current is None and self._uncommitted:
            self._current = self._new_item()  # audio without speech: an empty item
        if self._current is not None:
            self._commit(self._current)

    def clear(self) -> None:
        self._lane.stream.drop_utterance()
        self._lane.open = None
        if self._current is not None:
            self._current.discarded = True
            self._current = None
        self._uncommitted = 0
        self._post(self.events.cleared())

    def update(self, config: SessionConfig, shape: Shape, event_id: str | None) -> None:
        if not config.same_audio_handling(self.config):
            if self._current is not None:
                raise RealtimeError(
                    "the input audio buffer holds uncommitted speech; commit or clear it before "
                    "changing how audio is transcribed",
                    code="session_update_with_uncommitted_audio",
                    param="session",
                    event_id=event_id,
                )
            self._retire(config)
        self.config = config
        self._post(self.events.session_updated(config, shape))

    def _retire(self, config: SessionConfig) -> None:
        """Later audio goes to a new StreamSession with the new settings; the old one
        finishes the finals it owes (of committed items)."""
        old = self._lane
        self._retired_seconds += old.stream.seconds
        # Only the lanes still owing finals are kept: a client's many updates add nothing.
        self._retired = [task for task in self._retired if not task.done()]
        self._retired.append(asyncio.ensure_future(old.stream.finish()))
        self._lane = _Lane(self, config, old.base + old.stream.total_samples)
        if config.input_rate != self._input.rate:
            self._input = PcmInput(config.input_rate)

    # --- the end ---------------------------------------------------------------------------

    async def finish(self) -> None:
        """Commit the speech in the buffer (drain, limits), then wait for every item's
        transcript to be sent."""
        self._lane.stream.end_utterance()
        if self._current is not None and not self._current.discarded:
            self._commit(self._current)
        await self._lane.stream.finish()
        for task in self._retired:
            await asyncio.shield(task)

    async def abort(self) -> None:
        """The client is gone: drop everything (its decodes are cancelled)."""
        for task in self._retired:
            task.cancel()
        await self._lane.stream.abort()
        for task in self._retired:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- from the lanes --------------------------------------------------------------------

    def item_for_speech(self, audio_start_ms: int) -> _Item:
        """The item an utterance that just started belongs to (a new one with server_vad)."""
        if self._current is None:
            self._current = self._new_item()
            if self.config.turn_detection is not None:
                self._post(self.events.speech_started(self._current.id, audio_start_ms))
        return self._current

    def _new_item(self) -> _Item:
        return _Item(new_id("item"), self.config.transcription.agreement)

    def utterance_closed(self, item: _Item, audio_end_ms: int) -> None:
        if self.config.turn_detection is None or item.discarded:
            return  # the client commits
        if not self._client_commit:
            self._post(self.events.speech_stopped(item.id, audio_end_ms))
        self._commit(item)

    def deltas(self, item: _Item, delta: str) -> None:
        if not delta or item.discarded:
            return
        self._post(self.events.delta(item.id, delta))
        if not self._first_delta_seen:
            self._first_delta_seen = True
            self.observer.first_partial(time.monotonic() - item.started_at)

    def utterance_done(self, item: _Item) -> None:
        item.pending -= 1
        self._flush()

    def _commit(self, item: _Item) -> None:
        if item.committed:
            return
        item.committed = True
        if item is self._current:
            self._current = None
        self._uncommitted = 0
        self._post(self.events.committed(item.id, self._last_committed))
        self._post(self.events.item_added(item.id, self._last_committed, self.shape))
        self._last_committed = item.id
        self._completing.append(item)
        self._flush()

    def _flush(self) -> None:
        """Complete the committed items whose utterances are all decoded, in commit order."""
        while self._completing and self._completing[0].pending == 0:
            item = self._completing.popleft()
            if item.failure is not None:
                code, message = item.failure
                self._post(self.events.failed(item.id, code, message))
            else:
                self._post(self.events.completed(item.id, item.text, item.seconds))
