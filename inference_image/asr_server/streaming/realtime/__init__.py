"""OpenAI's Realtime API in its transcription mode (`GET /v1/realtime?intent=transcription`),
in the beta and the GA shapes, on the same streaming sessions, scheduler, limits and drain as
`/v1/stream` (docs/streaming.md, "OpenAI Realtime transcription").

- `config.py`: the session's configuration (one dataclass) and its beta and GA renderings.
- `events.py`: every client event parsed once into a dataclass; bad ones raise
  `RealtimeError`, which becomes an `error` event (the session goes on).
- `server_events.py`: the server events, as the JSON the openai package's types describe.
- `deltas.py`: which partial text may be sent as a delta (text that two partials agree on),
  and the completed transcript those deltas add up to.
- `items.py`: the adapter on a `StreamSession`: 24 kHz PCM16 in, resampled; utterances as
  conversation items; commits, clears, session updates.
- `connection.py`: one WebSocket: admission by the stream hub, the receive loop, limits, drain.
"""
