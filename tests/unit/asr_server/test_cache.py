from __future__ import annotations

import numpy as np
from asr_server.cache import ResultCache, cache_key
from asr_server.engines.whisper.options import WhisperOptions
from asr_server.metrics import Metrics
from asr_server.types import TranscribeOptions, Transcription
from support.asr_engines import tone


def _result(text: str) -> Transcription:
    return Transcription(text=text, language="en", language_probability=1.0, duration=1.0)


def test_key_depends_on_audio_and_result_changing_options() -> None:
    audio = tone(1.0, 0.5)
    base = cache_key(audio, TranscribeOptions())
    assert cache_key(audio.copy(), TranscribeOptions()) == base
    assert cache_key(tone(1.0, 0.25), TranscribeOptions()) != base
    assert cache_key(audio, TranscribeOptions(language="en")) != base
    assert cache_key(audio, TranscribeOptions(hotwords="Kubernetes")) != base
    assert cache_key(audio, TranscribeOptions(word_timestamps=True)) != base
    # the beam size: every beam a result of its own
    assert cache_key(audio, TranscribeOptions(beam_size=5)) != base
    assert cache_key(audio, TranscribeOptions(beam_size=5)) != cache_key(
        audio, TranscribeOptions(beam_size=2)
    )
    # an engine's own options are part of the key too
    trimmed = TranscribeOptions(engine=WhisperOptions(encoder_context="trimmed"))
    assert cache_key(audio, trimmed) != base
    assert cache_key(audio, trimmed) == cache_key(
        audio, TranscribeOptions(engine=WhisperOptions(encoder_context="trimmed"))
    )
    # float64 input with the same values hashes like its float32 form
    assert cache_key(audio.astype(np.float64).astype(np.float32), TranscribeOptions()) == base


def test_lru_evicts_least_recently_used_and_counts_hits_and_misses() -> None:
    metrics = Metrics.create()
    cache = ResultCache(2, metrics)
    cache.put("a", _result("a"))
    cache.put("b", _result("b"))
    assert cache.get("a") == _result("a")  # a is now most recent
    cache.put("c", _result("c"))  # evicts b
    assert cache.get("b") is None
    assert cache.get("c") == _result("c")
    assert len(cache) == 2
    assert metrics.registry.get_sample_value("asr_cache_hits_total") == 2
    assert metrics.registry.get_sample_value("asr_cache_misses_total") == 1


def test_zero_entries_disables_the_cache() -> None:
    metrics = Metrics.create()
    cache = ResultCache(0, metrics)
    cache.put("a", _result("a"))
    assert not cache.enabled
    assert cache.get("a") is None
    assert len(cache) == 0
    assert metrics.registry.get_sample_value("asr_cache_misses_total") == 0
