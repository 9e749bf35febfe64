"""Speech-recognition engines behind one boundary: the protocol and its optional capabilities
(`base.py`), the registry that builds the configured engine (`registry.py`), the container's
hardware (`hardware.py`), and the engines themselves: `whisper/` (faster-whisper, CTranslate2)
and `fake.py` (model-free, for tests)."""
