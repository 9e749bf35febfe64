"""The torch engine on the real bundled models and recorded audio: accuracy, equality with
faster-whisper at the same settings, hotword biasing, long audio, batching, bad input, int8."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from asr_server.engines.base import EngineError
from asr_server.engines.torch.engine import TorchEngineOptions, TorchWhisperEngine
from asr_server.engines.torch.int8_checkpoint import INT8_CHECKPOINT_FILE, is_quantized
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.quantize import float_linear_layers, quantized_linear_layers
from asr_server.engines.whisper.catalogue import resolve_model
from asr_server.engines.whisper.options import WhisperOptions
from asr_server.text import convert_script
from asr_server.types import SAMPLE_RATE, TranscribeOptions
from conftest import Clip
from faster_whisper import WhisperModel
from support.rare_words import RARE_SENTENCES, UNRELATED_HOTWORDS, hotword_hits, speak
from support.speech_clips import PHRASES
from support.text import char_error_rate, word_error_rate

pytestmark = pytest.mark.model

LoadTorch = Callable[..., TorchWhisperEngine]

BEAM_5 = TranscribeOptions(beam_size=5)
PARAFORMER = RARE_SENTENCES[6]
"""tiny.en writes "Perreformer" for it unless told."""


@pytest.fixture(scope="module")
def espeak_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("espeak")


@pytest.fixture(scope="module")
def library(torch_model_dir: Path) -> Callable[[str], WhisperModel]:
    """faster-whisper's own WhisperModel at float32, per catalogue model (loaded once)."""
    models: dict[str, WhisperModel] = {}

    def load(name: str) -> WhisperModel:
        if name not in models:
            path = resolve_model(name, torch_model_dir)
            models[name] = WhisperModel(
                str(path), device="cpu", compute_type="float32", cpu_threads=1
            )
        return models[name]

    return load


def test_jfk_word_for_word_with_tiny_en(
    torch_tiny: TorchWhisperEngine, jfk_audio: np.ndarray, jfk_clip: Clip
) -> None:
    result = torch_tiny.transcribe(jfk_audio, TranscribeOptions())
    assert word_error_rate(jfk_clip.transcript, result.text) == 0, result.text
    assert result.language == "en" and result.duration == pytest.approx(11.0, abs=0.05)
    assert 0.3 < result.confidence <= 1.0
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= 11.1
    info = torch_tiny.info
    assert (info.engine, info.device, info.compute_type) == ("torch", "cpu", "float32")


def test_mandarin_in_simplified_characters_with_base(
    torch_base: TorchWhisperEngine, mandarin_audio: np.ndarray, mandarin_clip: Clip
) -> None:
    result = torch_base.transcribe(mandarin_audio, TranscribeOptions(word_timestamps=True))
    assert result.language == "zh"
    assert char_error_rate(mandarin_clip.transcript, result.text) <= 0.10, result.text
    assert convert_script(result.text, "simplified") == result.text
    words = "".join(w.text for s in result.segments for w in s.words)
    assert words == result.text  # the words converted too, one character or more each


@pytest.mark.parametrize("beam_size", [1, 5])
@pytest.mark.parametrize(
    ("model", "clip"), [("whisper-tiny.en", "jfk"), ("whisper-base", "mandarin")]
)
def test_same_text_as_faster_whisper_float32(
    load_torch: LoadTorch,
    library: Callable[[str], WhisperModel],
    request: pytest.FixtureRequest,
    model: str,
    clip: str,
    beam_size: int,
) -> None:
    """The converted checkpoint decodes as the library does the CTranslate2 original."""
    audio = request.getfixturevalue(f"{clip}_audio")
    segments, _ = library(model).transcribe(audio, beam_size=beam_size)
    expected = "".join(s.text for s in segments).strip()
    ours = load_torch(model, output_script="as-is").transcribe(
        audio, TranscribeOptions(beam_size=beam_size)
    )
    assert ours.text == expected


@pytest.mark.parametrize(
    ("model", "clip"), [("whisper-tiny.en", "jfk"), ("whisper-base", "mandarin")]
)
def test_word_timings_agree_with_faster_whisper(
    load_torch: LoadTorch,
    library: Callable[[str], WhisperModel],
    request: pytest.FixtureRequest,
    model: str,
    clip: str,
) -> None:
    """The same words as the library's alignment (CTranslate2's), timed within frames of
    it; word timings change nothing of the text."""
    audio = request.getfixturevalue(f"{clip}_audio")
    segments, _ = library(model).transcribe(audio, beam_size=1, word_timestamps=True)
    theirs = [w for s in segments for w in s.words or ()]
    engine = load_torch(model, output_script="as-is")
    timed = engine.transcribe(audio, TranscribeOptions(word_timestamps=True))
    assert timed.text == engine.transcribe(audio, TranscribeOptions()).text
    ours = [w for s in timed.segments for w in s.words]
    assert [w.text for w in ours] == [w.word for w in theirs]
    gaps = [abs(a.start - b.start) for a, b in zip(ours, theirs, strict=True)]
    gaps += [abs(a.end - b.end) for a, b in zip(ours, theirs, strict=True)]
    # The same attention and path; only the edges of a segment are judged apart (alignment.py).
    assert np.median(gaps) <= 0.02 and max(gaps) <= 0.5, gaps
    for a, b in zip(ours, theirs, strict=True):
        assert a.probability == pytest.approx(b.probability, abs=0.02)
    for segment in timed.segments:
        assert all(segment.start <= w.start <= w.end <= segment.end for w in segment.words)


def test_a_rare_word_needs_decoder_hotwords(
    torch_tiny: TorchWhisperEngine, espeak_dir: Path
) -> None:
    audio = speak(PARAFORMER.text, espeak_dir, "paraformer")
    plain = torch_tiny.transcribe(audio, dataclasses.replace(BEAM_5, language="en"))
    assert hotword_hits(("Paraformer",), plain.text) == 0, plain.text
    biased = torch_tiny.transcribe(
        audio, dataclasses.replace(BEAM_5, language="en", hotwords="Paraformer")
    )
    assert hotword_hits(("Paraformer",), biased.text) == 1, biased.text
    assert word_error_rate(PARAFORMER.text, biased.text) < word_error_rate(
        PARAFORMER.text, plain.text
    )


def test_unrelated_hotwords_leave_jfk_alone(
    torch_tiny: TorchWhisperEngine, jfk_audio: np.ndarray
) -> None:
    plain = torch_tiny.transcribe(jfk_audio, BEAM_5)
    biased = torch_tiny.transcribe(
        jfk_audio, dataclasses.replace(BEAM_5, hotwords=", ".join(UNRELATED_HOTWORDS))
    )
    assert biased.text == plain.text


def test_audio_longer_than_a_window_is_decoded_whole(
    torch_tiny: TorchWhisperEngine, jfk_audio: np.ndarray, jfk_clip: Clip
) -> None:
    gap = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    audio = np.concatenate([jfk_audio, gap, jfk_audio, gap, jfk_audio])
    result = torch_tiny.transcribe(audio, TranscribeOptions())
    assert result.duration > 30
    assert word_error_rate(" ".join([jfk_clip.transcript] * 3), result.text) <= 0.05, result.text
    assert result.segments[-1].end > 30
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)


def test_a_batch_decodes_as_each_request_alone(
    torch_tiny: TorchWhisperEngine, jfk_audio: np.ndarray, espeak_dir: Path
) -> None:
    audios = [jfk_audio, *(speak(p, espeak_dir, f"phrase{i}") for i, p in enumerate(PHRASES[:3]))]
    options = [
        TranscribeOptions(),
        BEAM_5,
        TranscribeOptions(prompt="Stella"),
        TranscribeOptions(hotwords="Stella"),
    ]
    alone = [torch_tiny.transcribe(a, o) for a, o in zip(audios, options, strict=True)]
    together = torch_tiny.transcribe_batch(list(zip(audios, options, strict=True)))
    assert [r.text for r in together] == [r.text for r in alone]  # type: ignore[union-attr]


def test_bad_items_fail_alone(torch_tiny: TorchWhisperEngine, jfk_audio: np.ndarray) -> None:
    items = [
        (np.zeros(0, dtype=np.float32), TranscribeOptions()),
        (jfk_audio, TranscribeOptions(language="zh")),  # tiny.en is English-only
        (jfk_audio, TranscribeOptions(hotwords="Kubernetes:0")),
        (jfk_audio, TranscribeOptions(engine=WhisperOptions(encoder_context="half"))),
        (jfk_audio, TranscribeOptions()),
    ]
    results = torch_tiny.transcribe_batch(items)
    messages = [str(r) for r in results[:-1]]
    assert all(isinstance(r, EngineError) for r in results[:-1]), results
    assert "empty" in messages[0] and "not supported" in messages[1]
    assert "score" in messages[2] and "encoder context" in messages[3]
    assert not isinstance(results[-1], EngineError) and "Americans" in results[-1].text


def test_int8_really_quantises_and_still_transcribes(
    load_torch: LoadTorch, torch_model_dir: Path, jfk_audio: np.ndarray, jfk_clip: Clip
) -> None:
    engine = load_torch("whisper-tiny.en", compute_type="int8")
    assert engine.info.compute_type == "int8" and engine.model is not None
    assert float_linear_layers(engine.model) == []
    assert len(quantized_linear_layers(engine.model)) == 4 * 6 + 4 * 10 + 1
    # Loaded from the int8 checkpoint quantised once beside the float conversion.
    converted = torch_model_dir / "torch" / "whisper-tiny.en"
    assert engine.info.path == str(converted / INT8_CHECKPOINT_FILE)
    assert is_quantized(converted / "model.pt", converted)
    result = engine.transcribe(jfk_audio, TranscribeOptions(word_timestamps=True))
    assert word_error_rate(jfk_clip.transcript, result.text) <= 0.1, result.text
    words = [w for s in result.segments for w in s.words]  # aligned on the quantised model too
    assert " ".join(w.text.strip() for w in words) == result.text
    assert words[4].text.strip(" ,") == "Americans" and 1.5 < words[4].start < words[4].end < 2.5


def test_a_later_int8_start_never_builds_the_float_model(
    load_torch: LoadTorch,
    torch_model_dir: Path,
    jfk_audio: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = load_torch("whisper-tiny.en", compute_type="int8")  # fills the cache (once)

    def refuse(*args: object) -> None:
        raise AssertionError("an int8 start built the float32 model")

    monkeypatch.setattr(Whisper, "from_state_dict", refuse)
    later = TorchWhisperEngine(
        TorchEngineOptions(
            model="whisper-tiny.en", model_dir=torch_model_dir, compute_type="int8", cpu_threads=1
        )
    )
    later.load()
    expected = first.transcribe(jfk_audio, TranscribeOptions()).text
    assert later.transcribe(jfk_audio, TranscribeOptions()).text == expected
