"""What a stream asks of the shared decoder: the options and context of each kind of decode
(as the engine's stream-quality policy says), a failed final's retry, and how failures are
handled (a partial is skipped, a final reported)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from asr_server.engines.base import StreamQuality
from asr_server.streaming.protocol import Error, ServerMessage, StartMessage
from asr_server.streaming.quality import acceptable
from asr_server.types import Audio, TranscribeOptions, Transcription

log = logging.getLogger(__name__)

FINAL, FIRST_PARTIAL, PARTIAL = "final", "first_partial", "partial"
"""Kinds of decode, in the priority the scheduler gives them (StreamHub.decode): a final and
the stream's first partial are foreground work, later partials background work."""
Decode = Callable[[Audio, TranscribeOptions, str, float], Awaitable[Transcription]]
"""(audio, options, kind, since) -> result; the shared scheduler in production. `since`: when
the audio the decode needs had arrived (time.monotonic()): older work is served first."""
Emit = Callable[[ServerMessage], Awaitable[None]]

MAX_CONTEXT_CHARS = 200
"""Of the stream's previous final, given as the prompt of its next decodes (Whisper keeps at
most 223 prompt tokens)."""


async def settle(task: asyncio.Future[Transcription | None], wait_cancelled: bool = True) -> None:
    """Wait until `task` is done; if the waiter itself is cancelled (client gone), cancel the
    task too (and wait for it to end, unless `wait_cancelled` is False)."""
    try:
        await asyncio.wait([task])
    finally:
        if not task.done():
            task.cancel()
            if wait_cancelled:
                await asyncio.wait([task])


class StreamDecoder:
    def __init__(
        self,
        start: StartMessage,
        quality: StreamQuality,
        decode: Decode,
        emit: Emit,
        language: str | None = None,
    ) -> None:
        # The engine's policy (e.g. engines/whisper/quality.py) gives the options of a final's
        # first decode, of partials, and of the retry of a final that fails its checks or
        # overruns its audio (quality.acceptable), made as a new request. Every decode but
        # that retry is given the stream's previous final as context (`in_context`).
        self.quality = quality
        options = start.options
        if options.language is None and language is not None:
            options = dataclasses.replace(options, language=language)
        passes = quality.stream_passes(options)
        self.options, self.partial_options = passes.final, passes.partial
        self.retry_options = passes.retry
        self._decode, self._emit = decode, emit
        self.previous_text = ""
        """The last final's text: the context of the stream's next decodes."""

    def in_context(self, options: TranscribeOptions) -> TranscribeOptions:
        """`options` with the end of the previous final appended to the start message's prompt.

        Whisper decodes each 30 s window knowing the text before it (faster-whisper's
        condition_on_previous_text), an utterance decoded alone does not, and short ones
        suffer: tiny.en hears jfk's isolated "Ask not!" as "S NOT!" (log-probability -1.05,
        failing Whisper's checks) and, given "And so my fellow Americans.", as "Ask not!"
        (-0.56). The prompt is per row of a batched call, so streams with different texts
        still share batches (batching.batch_settings)."""
        if not self.previous_text:
            return options
        context = self.previous_text[-MAX_CONTEXT_CHARS:]
        prompt = f"{options.prompt} {context}" if options.prompt else context
        return dataclasses.replace(options, prompt=prompt)

    async def speculate(self, audio: Audio, since: float) -> Transcription | None:
        """A final's decode before its end is confirmed, second chance included (so that
        starts in the pause too): errors are left to the real one."""
        try:
            return await self._final_decode(audio, since)
        except asyncio.CancelledError:
            raise
        except Exception:
            return None

    async def final(
        self, audio: Audio, early: Transcription | None, since: float
    ) -> Transcription | None:
        """The final result of an utterance (`early`: its early decode's result, if any);
        None when it could not be decoded (the client was told)."""
        result = early
        if result is None:
            try:
                result = await self._final_decode(audio, since)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the scheduler's domain errors and EngineError
                await self._failed(exc, final=True)
                return None
        self._remember(result)
        return result

    def _remember(self, result: Transcription) -> None:
        """Keep `result` as the context of the next decodes, unless the engine's policy says
        its text is too doubtful to carry on (StreamQuality.keeps_as_context)."""
        if not self.quality.keeps_as_context(result):
            self.previous_text = ""
        elif result.text.strip():
            self.previous_text = result.text.strip()

    async def _final_decode(self, audio: Audio, since: float) -> Transcription:
        result = await self._decode(audio, self.in_context(self.options), FINAL, since)
        if self.retry_options is not None and not acceptable(result, self.quality):
            # The retry keeps the utterance's `since`, so it queues ahead of the finals that
            # became due later; it goes without the context, in case that led it astray.
            log.info("stream final failed the checks; decoding it again with the retry options")
            result = await self._decode(audio, self.retry_options, FINAL, since)
        return result

    async def partial(self, audio: Audio, first: bool, since: float) -> Transcription | None:
        """A partial decode (best effort); None when refused or failed (skipped)."""
        try:
            return await self._decode(
                audio,
                self.in_context(self.partial_options),
                FIRST_PARTIAL if first else PARTIAL,
                since,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(exc, final=False)
            return None

    async def _failed(self, exc: Exception, final: bool) -> None:
        """A failed partial is skipped; a failed final is reported to the client."""
        code = str(getattr(exc, "code", "decode_failed"))
        log.warning("stream %s decode failed: %s", "final" if final else "partial", exc)
        if final:
            await self._emit(Error(code, f"utterance not transcribed: {exc}"))
