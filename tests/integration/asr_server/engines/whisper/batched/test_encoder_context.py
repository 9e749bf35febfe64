"""The trimmed encoder context (ASR_ENCODER_CONTEXT=trimmed) on real speech: the same words as
the full 30 s window, a decode that fails Whisper's checks retried with the full window, and
the per-request choice overriding the decoder's default."""

from __future__ import annotations

import pytest
from asr_server.engines.base import EngineError
from asr_server.engines.whisper.batched import windows
from asr_server.engines.whisper.batched.decoder import BatchedWhisperDecoder
from asr_server.engines.whisper.options import WhisperOptions
from asr_server.types import TranscribeOptions, Transcription
from faster_whisper import WhisperModel
from support.speech_clips import Speech
from support.text import edit_distance, normalize_words

pytestmark = pytest.mark.model

TRIMMED = TranscribeOptions(engine=WhisperOptions(encoder_context="trimmed"))
FULL = TranscribeOptions(engine=WhisperOptions(encoder_context="full"))
HALF = TranscribeOptions(engine=WhisperOptions(encoder_context="half"))


def words(result: Transcription | EngineError) -> list[str]:
    assert isinstance(result, Transcription), f"expected a transcription, got {result!r}"
    return normalize_words(result.text)


def corpus_wer(clips: list[Speech], results: list[Transcription | EngineError]) -> float:
    edits = sum(
        edit_distance(normalize_words(c.reference), words(r))
        for c, r in zip(clips, results, strict=True)
    )
    return edits / sum(len(normalize_words(c.reference)) for c in clips)


def test_trimmed_context_keeps_the_accuracy_of_the_full_window(
    tiny_model: WhisperModel, clips_in_voices: list[Speech], sequential: dict[str, str]
) -> None:
    clips = clips_in_voices
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    trimmed = decoder.decode([(c.audio, TRIMMED) for c in clips])
    full = decoder.decode([(c.audio, TranscribeOptions()) for c in clips])
    # jfk, a real recording, word for word as the unbatched path
    assert clips[0].name == "jfk"
    assert words(trimmed[0]) == normalize_words(sequential["jfk"])
    # and the corpus no worse than the full window (espeak-ng voices differ by a word or so;
    # over three voices, as docs/throughput.md measures it: on one voice a single clip's two
    # words are 2 %, and int8 kernels differ between CPUs)
    assert corpus_wer(clips, trimmed) <= corpus_wer(clips, full) + 0.02
    assert decoder.context_retries == 0


def test_the_decoder_default_applies_unless_the_request_chooses(
    tiny_model: WhisperModel, clips: list[Speech], sequential: dict[str, str]
) -> None:
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4, encoder_context="trimmed")
    jfk = clips[0]
    default, full = decoder.decode(
        [
            (jfk.audio, TranscribeOptions()),
            (jfk.audio, FULL),
        ]
    )
    assert isinstance(full, Transcription) and full.text == sequential["jfk"]
    assert words(default) == normalize_words(sequential["jfk"])
    bad = decoder.decode([(jfk.audio, HALF)])[0]
    assert isinstance(bad, EngineError) and "encoder context" in str(bad)
    with pytest.raises(ValueError, match="encoder_context"):
        BatchedWhisperDecoder(tiny_model, encoder_context="half")


def test_a_trimmed_decode_that_fails_the_checks_is_retried_with_the_full_window(
    tiny_model: WhisperModel,
    clips: list[Speech],
    sequential: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With no silence after the speech tiny.en tends to repeat itself until max_length; the
    # repetition check must catch it and the full window give the usual text.
    monkeypatch.setattr(windows, "TRIM_MARGIN_FRAMES", 0)
    monkeypatch.setattr(windows, "TRIM_MIN_FRAMES", 0)
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    results = decoder.decode([(c.audio, TRIMMED) for c in clips])
    assert decoder.context_retries >= 1
    for clip, result in zip(clips, results, strict=True):
        got = words(result)
        # no runaway repetition survives: never more words than the reference has plus a few
        assert len(got) <= len(normalize_words(clip.reference)) + 3, (clip.name, got)


def test_one_pass_decodes_are_not_retried_with_the_full_window(
    tiny_model: WhisperModel, clips: list[Speech], monkeypatch: pytest.MonkeyPatch
) -> None:
    # fallback=False (a stream's partial) asks for one greedy pass: a trimmed decode that fails
    # the checks is returned as it is, not decoded again with the full window.
    monkeypatch.setattr(windows, "TRIM_MARGIN_FRAMES", 0)
    monkeypatch.setattr(windows, "TRIM_MIN_FRAMES", 0)
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    one_pass = TranscribeOptions(engine=WhisperOptions(encoder_context="trimmed", fallback=False))
    results = decoder.decode([(c.audio, one_pass) for c in clips])
    assert all(isinstance(r, Transcription) for r in results)
    assert decoder.context_retries == 0
    decoder.decode([(c.audio, TRIMMED) for c in clips])
    assert decoder.context_retries >= 1  # the same audio with fallback is retried
