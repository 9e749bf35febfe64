"""The Whisper engine's cross-request batched decoder, stage by stage: `windows` (a request's
audio -> <= 30 s windows), `prompts` (tokenizers and each window's prompt), `rounds` (a round's
windows -> generate calls, on the model or its CPU replicas), `segments` (a decoded window ->
timed segments), `stitch` (an item's windows -> one Transcription) and `decoder` (the loop
over rounds, with the fallback of engines/whisper/fallback.py)."""
