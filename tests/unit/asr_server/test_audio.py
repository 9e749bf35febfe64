"""Audio bytes -> 16 kHz mono float32: real encoders' output, raw PCM, and hostile input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asr_server.audio import decode_audio, pcm16_to_audio
from asr_server.errors import BadAudio
from asr_server.types import SAMPLE_RATE
from support.encode import (
    FLAC,
    M4A,
    MP3,
    OGG_OPUS,
    WAV_8K_STEREO,
    WEBM_OPUS,
    Target,
    encode,
    sine,
)


@pytest.fixture(scope="module")
def jfk_16k(jfk_clip) -> np.ndarray:  # type: ignore[no-untyped-def]
    return decode_audio(jfk_clip.path.read_bytes())


def test_jfk_flac_is_16k_mono_float32_in_range(jfk_16k: np.ndarray) -> None:
    assert jfk_16k.dtype == np.float32
    assert jfk_16k.ndim == 1
    assert len(jfk_16k) / SAMPLE_RATE == pytest.approx(11.0, abs=0.05)
    assert 0.1 < float(np.abs(jfk_16k).max()) <= 1.0


@pytest.mark.parametrize(
    "target", [MP3, OGG_OPUS, WAV_8K_STEREO, FLAC, M4A, WEBM_OPUS], ids=lambda t: t.container
)
def test_every_container_decodes_to_the_same_speech(jfk_16k: np.ndarray, target: Target) -> None:
    decoded = decode_audio(encode(jfk_16k, SAMPLE_RATE, target))
    # Codecs add priming delay/padding; compare the overlapping part after aligning on the
    # best lag, and require the waveform to match the original closely (lossy codecs too).
    assert abs(len(decoded) - len(jfk_16k)) < 0.1 * SAMPLE_RATE
    n = min(len(decoded), len(jfk_16k)) - 4000
    lags = range(-1200, 1201, 1)
    ref = jfk_16k[2000 : 2000 + n - 2400]
    best = max(lags, key=lambda k: float(ref @ decoded[2000 + k : 2000 + k + len(ref)]))
    hyp = decoded[2000 + best : 2000 + best + len(ref)]
    correlation = float(np.corrcoef(ref, hyp)[0, 1])
    floor = 0.97 if target.sample_rate >= 16_000 else 0.9  # 8 kHz loses the band above 4 kHz
    assert correlation > floor, (target, best, correlation)


def test_declared_duration_over_the_limit_is_refused_before_decoding() -> None:
    data = encode(sine(5.0), SAMPLE_RATE, FLAC)
    with pytest.raises(BadAudio) as caught:
        decode_audio(data, max_seconds=2.0)
    assert caught.value.code == "audio_too_long"
    assert "5.0 s" in caught.value.message
    assert len(decode_audio(data, max_seconds=5.0)) == 5 * SAMPLE_RATE


def test_audio_just_over_the_limit_is_cut_off_while_decoding() -> None:
    # Within the header slack, so the limit trips on the decoded sample count instead.
    data = encode(sine(6.0), SAMPLE_RATE, FLAC)
    with pytest.raises(BadAudio) as caught:
        decode_audio(data, max_seconds=5.7)
    assert caught.value.code == "audio_too_long"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_audio"),
        (np.random.default_rng(7).bytes(64_000), "undecodable_audio"),
        (b"This is a plain text file, not audio.\n" * 200, "undecodable_audio"),
        (b"RIFF\x00\x00\x00\x00WAVE", "undecodable_audio"),
    ],
    ids=["zero-length", "random-bytes", "text-file", "bare-riff-header"],
)
def test_garbage_raises_bad_audio_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(BadAudio) as caught:
        decode_audio(data, max_seconds=60)
    assert caught.value.code == code
    assert caught.value.message


def test_random_bytes_never_crash_or_hang() -> None:
    rng = np.random.default_rng(1)
    for size in (1, 3, 17, 400, 4096, 100_000):
        try:
            audio = decode_audio(rng.bytes(size), max_seconds=60)
        except BadAudio:
            continue
        assert audio.dtype == np.float32  # FFmpeg found *some* audio: still well-formed


def test_truncated_flac_yields_the_audio_before_the_cut() -> None:
    data = encode(sine(4.0), SAMPLE_RATE, FLAC)
    audio = decode_audio(data[: len(data) // 2])
    assert 0.5 * SAMPLE_RATE < len(audio) < 4 * SAMPLE_RATE
    with pytest.raises(BadAudio):
        decode_audio(data[:50])  # the stream header itself is cut


def test_pcm16_at_16k_is_scaled_to_float() -> None:
    pcm = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    audio = pcm16_to_audio(pcm, 16_000)
    np.testing.assert_allclose(audio, [0.0, 0.5, -1.0, 32767 / 32768])


def test_pcm16_stereo_8k_is_averaged_and_resampled() -> None:
    tone = sine(2.0, 8_000)
    left = (tone * 32767).astype("<i2")
    stereo = np.stack([left, np.zeros_like(left)], axis=1).reshape(-1).tobytes()
    audio = pcm16_to_audio(stereo, 8_000, channels=2)
    assert abs(len(audio) - 2 * SAMPLE_RATE) <= 32
    expected = sine(2.0, SAMPLE_RATE) / 2  # averaged with a silent channel
    n = min(len(audio), len(expected)) - 200
    assert float(np.corrcoef(audio[100:n], expected[100:n])[0, 1]) > 0.99
    assert float(np.abs(audio).max()) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize(
    ("data", "rate", "channels", "code"),
    [
        (b"", 16_000, 1, "empty_audio"),
        (b"\x00\x01\x02", 16_000, 1, "invalid_pcm"),
        (b"\x00" * 6, 16_000, 2, "invalid_pcm"),
        (b"\x00" * 4, 0, 1, "invalid_pcm"),
        (b"\x00" * 4, 1_000, 1, "invalid_pcm"),
        (b"\x00" * 4, 1_000_000, 1, "invalid_pcm"),
        (b"\x00" * 4, 16_000, 0, "invalid_pcm"),
        (b"\x00" * 4, 16_000, 99, "invalid_pcm"),
    ],
)
def test_pcm16_errors(data: bytes, rate: int, channels: int, code: str) -> None:
    with pytest.raises(BadAudio) as caught:
        pcm16_to_audio(data, rate, channels=channels)
    assert caught.value.code == code


def test_pcm16_too_long_is_refused_before_conversion() -> None:
    pcm = b"\x00\x00" * (8_000 * 3)
    with pytest.raises(BadAudio) as caught:
        pcm16_to_audio(pcm, 8_000, max_seconds=2.5)
    assert caught.value.code == "audio_too_long"
    assert len(pcm16_to_audio(pcm, 8_000, max_seconds=3.0)) == pytest.approx(48_000, abs=32)


def test_raw_pcm16_of_the_original_recording_matches_the_container_decode(
    jfk_clip,  # type: ignore[no-untyped-def]
    jfk_16k: np.ndarray,
) -> None:
    # The FLAC's own 44.1 kHz stereo samples as raw interleaved PCM16, as an ASRT client sends.
    import av

    with av.open(str(jfk_clip.path)) as container:
        stream = container.streams.audio[0]
        rate, channels = stream.rate, stream.channels
        resampler = av.AudioResampler(format="s16", layout=stream.layout.name, rate=rate)
        pcm = b"".join(
            bytes(out.planes[0])[: out.samples * 2 * channels]
            for frame in container.decode(stream)
            for out in resampler.resample(frame)
        )
    assert (rate, channels) == (44_100, 2)
    audio = pcm16_to_audio(pcm, rate, channels=channels, max_seconds=60)
    assert abs(len(audio) - len(jfk_16k)) <= 32
    n = min(len(audio), len(jfk_16k))
    assert float(np.abs(audio[:n] - jfk_16k[:n]).max()) < 1e-3


@pytest.mark.parametrize(
    "body",
    [
        b"ffconcat version 1.0\nfile 'speech.flac'\n",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:4.0,\nspeech.flac\n#EXT-X-ENDLIST\n",
    ],
    ids=["ffconcat", "hls"],
)
def test_playlists_cannot_make_ffmpeg_read_server_files(
    body: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "speech.flac").write_bytes(encode(sine(4.0), SAMPLE_RATE, FLAC))
    monkeypatch.chdir(tmp_path)  # the concat demuxer resolves relative names from here
    with pytest.raises(BadAudio) as caught:
        decode_audio(body)
    assert caught.value.code == "undecodable_audio"


@pytest.mark.parametrize(
    "target", [FLAC, MP3, OGG_OPUS, WAV_8K_STEREO, M4A, WEBM_OPUS], ids=lambda t: t.container
)
def test_corrupted_files_give_audio_or_bad_audio_never_another_error(target: Target) -> None:
    """Byte flips in headers and bodies, and truncations, of real encoder output (a seeded
    fuzz: it found a crash on a damaged wav header and one on a webm without a codec)."""
    rng = np.random.default_rng(3)
    original = encode(sine(2.0), SAMPLE_RATE, target)
    for case in range(80):
        data = bytearray(original)
        span = 400 if case % 2 else len(data)  # half the flips hit the headers
        for _ in range(int(rng.integers(1, 20))):
            data[int(rng.integers(0, min(span, len(data))))] = int(rng.integers(0, 256))
        if case % 5 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        try:
            audio = decode_audio(bytes(data), max_seconds=30)
        except BadAudio as exc:
            assert exc.code in {"undecodable_audio", "empty_audio", "audio_too_long"}
            continue
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert len(audio) <= 30 * SAMPLE_RATE


def test_a_header_claiming_an_absurd_sample_rate_is_refused() -> None:
    data = bytearray(encode(sine(1.0), SAMPLE_RATE, WAV_8K_STEREO))
    data[24:28] = (822_091_584).to_bytes(4, "little")  # WAVE fmt chunk: sample rate
    with pytest.raises(BadAudio, match="unsupported sample rate 822091584 Hz") as caught:
        decode_audio(bytes(data))
    assert caught.value.code == "undecodable_audio"
