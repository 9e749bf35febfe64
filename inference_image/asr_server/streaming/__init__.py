"""Live speech recognition over WebSocket: protocol, streaming VAD, per-stream sessions."""
