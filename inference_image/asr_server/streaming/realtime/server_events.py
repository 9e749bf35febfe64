"""Server events of OpenAI's Realtime API (transcription mode), as the JSON the openai
package's types describe (`openai.types.beta.realtime` / `openai.types.realtime`).

The beta and GA shapes differ only in the session object and its events
(`transcription_session.created/updated` with a flat session vs `session.created/updated` with
`session.type: "transcription"` and `audio.input`) and in the event announcing a committed
item (`conversation.item.created` vs `conversation.item.added`); the buffer and transcription
events are the same.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from asr_server.streaming.realtime.config import SessionConfig
from asr_server.streaming.realtime.events import RealtimeError, Shape


def new_id(prefix: str) -> str:
    """An OpenAI-style id: `sess_...`, `item_...`."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class ServerEvents:
    """Builds one session's server events as JSON text, each with its own `event_id`."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._prefix = f"event_{session_id.removeprefix('sess_')[:12]}"
        self._count = 0

    def _event(self, kind: str, **fields: Any) -> str:
        self._count += 1
        event = {"type": kind, "event_id": f"{self._prefix}{self._count:06d}", **fields}
        return json.dumps(event, ensure_ascii=False)

    # --- the session ----------------------------------------------------------------------

    def session_created(self, config: SessionConfig, shape: Shape) -> str:
        if shape == "beta":
            return self._event("transcription_session.created", session=self.beta(config))
        return self._event("session.created", session=self.ga(config))

    def session_updated(self, config: SessionConfig, shape: Shape) -> str:
        if shape == "beta":
            return self._event("transcription_session.updated", session=self.beta(config))
        return self._event("session.updated", session=self.ga(config))

    def beta(self, config: SessionConfig) -> dict[str, Any]:
        """`openai.types.beta.realtime.TranscriptionSession`."""
        words = config.transcription
        return {
            "id": self.session_id,
            "object": "realtime.transcription_session",
            "client_secret": None,
            "modalities": ["text"],
            "input_audio_format": "pcm16",
            "input_audio_transcription": {
                "model": words.model,
                "language": words.language,
                "prompt": words.prompt or "",
            },
            "turn_detection": _turn_detection(config),
            "input_audio_noise_reduction": _noise_reduction(config),
            "include": list(config.include) or None,
        }

    def ga(self, config: SessionConfig) -> dict[str, Any]:
        """`openai.types.realtime.RealtimeTranscriptionSessionCreateResponse`."""
        words = config.transcription
        transcription: dict[str, Any] = {
            "model": words.model,
            "language": words.language,
            "prompt": words.prompt or "",
        }
        if words.keywords:
            transcription["keywords"] = list(words.keywords)
        transcription["delay"] = words.delay
        return {
            "type": "transcription",
            "id": self.session_id,
            "object": "realtime.transcription_session",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": config.input_rate},
                    "transcription": transcription,
                    "turn_detection": _turn_detection(config),
                    "noise_reduction": _noise_reduction(config),
                }
            },
            "include": list(config.include) or None,
        }

    # --- the input audio buffer -----------------------------------------------------------

    def speech_started(self, item_id: str, audio_start_ms: int) -> str:
        return self._event(
            "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms, item_id=item_id
        )

    def speech_stopped(self, item_id: str, audio_end_ms: int) -> str:
        return self._event(
            "input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms, item_id=item_id
        )

    def committed(self, item_id: str, previous_item_id: str | None) -> str:
        return self._event(
            "input_audio_buffer.committed", item_id=item_id, previous_item_id=previous_item_id
        )

    def cleared(self) -> str:
        return self._event("input_audio_buffer.cleared")

    def item_added(self, item_id: str, previous_item_id: str | None, shape: Shape) -> str:
        """The user message item a commit creates (`conversation.item.created` in the beta,
        `conversation.item.added` in GA); its transcript comes in the events below."""
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        kind = "conversation.item.created" if shape == "beta" else "conversation.item.added"
        return self._event(kind, item=item, previous_item_id=previous_item_id)

    # --- transcription --------------------------------------------------------------------

    def delta(self, item_id: str, delta: str) -> str:
        return self._event(
            "conversation.item.input_audio_transcription.delta",
            item_id=item_id,
            content_index=0,
            delta=delta,
        )

    def completed(self, item_id: str, transcript: str, seconds: float) -> str:
        return self._event(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )

    def failed(self, item_id: str, code: str, message: str) -> str:
        return self._event(
            "conversation.item.input_audio_transcription.failed",
            item_id=item_id,
            content_index=0,
            error={"type": "server_error", "code": code, "message": message, "param": None},
        )

    def error(self, exc: RealtimeError) -> str:
        return self._event(
            "error",
            error={
                "type": exc.type,
                "code": exc.code,
                "message": exc.message,
                "param": exc.param,
                "event_id": exc.event_id,
            },
        )


def _turn_detection(config: SessionConfig) -> dict[str, Any] | None:
    vad = config.turn_detection
    if vad is None:
        return None
    return {
        "type": "server_vad",
        "threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "silence_duration_ms": vad.silence_duration_ms,
    }


def _noise_reduction(config: SessionConfig) -> dict[str, str] | None:
    return None if config.noise_reduction is None else {"type": config.noise_reduction}
