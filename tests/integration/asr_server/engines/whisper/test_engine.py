"""WhisperEngine on the real bundled models and recorded audio, plus the offline CLI.

Each model is loaded once for the module; whisper-base is joined once into a temp cache.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from asr_server.audio import decode_audio
from asr_server.config import ServerConfig
from asr_server.engines.base import EngineError, ModelError
from asr_server.engines.registry import create_engine
from asr_server.engines.whisper.engine import WhisperEngine
from asr_server.types import SAMPLE_RATE, TranscribeOptions
from support.encode import MP3, OGG_OPUS, WAV_8K_STEREO, Target, encode
from support.longform import ivr_menu, lost_groups
from support.text import char_error_rate, normalize_words, word_error_rate

pytestmark = pytest.mark.model

SRT_CUE = re.compile(
    r"^(\d+)\n(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})\n(.+)$"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> WhisperEngine:
    engine = create_engine(
        ServerConfig(model="whisper-tiny.en", model_dir=tmp_path_factory.mktemp("tiny"))
    )
    assert isinstance(engine, WhisperEngine)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperEngine]:
    engine = WhisperEngine(
        ServerConfig(model="whisper-base", model_dir=tmp_path_factory.mktemp("base"))
    )
    engine.load()
    yield engine


@pytest.fixture(scope="module")
def jfk_audio(jfk_clip) -> np.ndarray:  # type: ignore[no-untyped-def]
    return decode_audio(jfk_clip.path.read_bytes())


def test_jfk_with_tiny_en_is_word_perfect(
    tiny: WhisperEngine,
    jfk_audio: np.ndarray,
    jfk_clip,  # type: ignore[no-untyped-def]
) -> None:
    result = tiny.transcribe(jfk_audio, TranscribeOptions())
    assert word_error_rate(jfk_clip.transcript, result.text) == 0, result.text
    assert result.language == "en"
    assert result.duration == pytest.approx(11.0, abs=0.05)
    assert 0.3 < result.confidence <= 1.0
    assert all(0.0 <= s.confidence <= 1.0 for s in result.segments)
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= 11.1


def test_engine_info_reports_the_loaded_model(tiny: WhisperEngine) -> None:
    info = tiny.info
    assert tiny.ready
    assert (info.name, info.engine, info.device, info.compute_type) == (
        "whisper-tiny.en",
        "faster-whisper",
        "cpu",
        "int8",
    )
    assert info.load_seconds > 0
    assert Path(info.path, "model.bin").is_file()
    assert tiny.model is not None and tiny.model.model is not None  # for batched/streaming


def test_the_compute_type_asked_is_the_one_that_runs_or_the_load_fails(tmp_path: Path) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("ASR_DEVICE=auto picks the GPU here, which runs float16")
    exact = WhisperEngine(
        ServerConfig(model="whisper-tiny.en", model_dir=tmp_path, compute_type="float32")
    )
    exact.load()
    assert exact.info.compute_type == exact.model.model.compute_type == "float32"
    refused = WhisperEngine(
        ServerConfig(model="whisper-tiny.en", model_dir=tmp_path, compute_type="float16")
    )
    with pytest.raises(ModelError, match="float16 is not supported on cpu"):
        refused.load()
    assert not refused.ready


@pytest.mark.parametrize(
    ("target", "max_changed_words"),
    [(MP3, 0), (OGG_OPUS, 0), (WAV_8K_STEREO, 1)],
    ids=["mp3", "ogg-opus", "wav-8k-stereo"],
)
def test_the_same_speech_in_other_containers_gives_the_same_text(
    tiny: WhisperEngine, jfk_audio: np.ndarray, target: Target, max_changed_words: int
) -> None:
    # Telephone-band audio (8 kHz) loses everything above 4 kHz, including most of an "s":
    # tiny.en hears "American" for "Americans" there; one changed word is the allowance.
    reference = tiny.transcribe(jfk_audio, TranscribeOptions()).text
    converted = decode_audio(encode(jfk_audio, SAMPLE_RATE, target))
    text = tiny.transcribe(converted, TranscribeOptions()).text
    changed = word_error_rate(reference, text) * len(normalize_words(reference))
    assert round(changed) <= max_changed_words, text


def test_word_timestamps_are_ordered_and_inside_the_audio(
    tiny: WhisperEngine, jfk_audio: np.ndarray
) -> None:
    result = tiny.transcribe(jfk_audio, TranscribeOptions(word_timestamps=True))
    words = [w for s in result.segments for w in s.words]
    assert [normalize_words(w.text)[0] for w in words[:3]] == ["and", "so", "my"]
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(0 <= w.start <= w.end <= 11.1 and 0 <= w.probability <= 1 for w in words)


def test_batch_isolates_a_bad_item(tiny: WhisperEngine, jfk_audio: np.ndarray) -> None:
    results = tiny.transcribe_batch(
        [(jfk_audio, TranscribeOptions()), (jfk_audio[:16000], TranscribeOptions(language="xx"))]
    )
    assert not isinstance(results[0], EngineError)
    assert "country" in results[0].text
    assert isinstance(results[1], EngineError)
    assert "'xx' is not supported by whisper-tiny.en" in str(results[1])


def test_mandarin_with_whisper_base_is_detected_and_simplified(
    base: WhisperEngine,
    mandarin_clip,  # type: ignore[no-untyped-def]
) -> None:
    audio = decode_audio(mandarin_clip.path.read_bytes())
    result = base.transcribe(audio, TranscribeOptions())
    assert result.language == "zh"
    assert result.language_probability > 0.5
    assert char_error_rate(mandarin_clip.transcript, result.text) <= 0.15, result.text
    traditional = WhisperEngine(ServerConfig(model="whisper-base", output_script="traditional"))
    as_traditional = traditional.postprocess(result)
    assert "現" in as_traditional.text or "幾" in as_traditional.text, as_traditional.text


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asr_server", "transcribe", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_cli_prints_the_text(jfk_clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = _cli(str(jfk_clip.path), "--model", "whisper-tiny.en", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert word_error_rate(jfk_clip.transcript, done.stdout) == 0, done.stdout


def test_cli_srt_is_valid(jfk_clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = _cli(str(jfk_clip.path), "--format", "srt", "--model", "whisper-tiny.en", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cues = done.stdout.strip().split("\n\n")
    previous_end = 0.0
    for number, cue in enumerate(cues, start=1):
        match = SRT_CUE.match(cue)
        assert match, cue
        g = [int(x) for x in match.groups()[:9]]
        start = g[1] * 3600 + g[2] * 60 + g[3] + g[4] / 1000
        end = g[5] * 3600 + g[6] * 60 + g[7] + g[8] / 1000
        assert g[0] == number and previous_end <= start < end <= 11.1
        previous_end = end
    text = " ".join(SRT_CUE.match(c).group(10) for c in cues)  # type: ignore[union-attr]
    assert word_error_rate(jfk_clip.transcript, text) == 0


def test_cli_shows_progress_on_a_long_file_and_reports_bad_files(
    jfk_audio: np.ndarray,
    jfk_clip,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    long_file = tmp_path / "long.flac"
    long_file.write_bytes(
        encode(np.tile(jfk_audio, 3), SAMPLE_RATE, Target("flac", "flac", 16_000))
    )
    menu = ivr_menu()  # speech that really repeats: a correct transcript fails the
    menu_file = tmp_path / "menu.flac"  # compression check (the sampled retries garbled it)
    menu_file.write_bytes(encode(menu.audio, SAMPLE_RATE, Target("flac", "flac", 16_000)))
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    done = _cli(
        str(junk), str(long_file), str(menu_file), "--model", "whisper-tiny.en", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "junk.mp3: cannot decode the audio" in done.stderr
    assert "Traceback" not in done.stderr
    assert "long.flac" in done.stderr and "33.0/33.0" in done.stderr, done.stderr  # tqdm bar
    long_text, menu_text = done.stdout.split("==> ")[1:]
    assert long_text.startswith(str(long_file)) and menu_text.startswith(str(menu_file))
    # jfk three times back to back; tiny.en garbles a repetition's seam, so only ask for
    # the speech to be there, at least twice.
    assert normalize_words(long_text).count("country") >= 4, done.stdout
    assert lost_groups(menu.groups, menu_text) == [], menu_text
