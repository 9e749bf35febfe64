"""Mutated real audio into the decoder (issue 13): truncations, byte flips, inserted and
deleted runs, header edits of real files in every container the server takes. Each mutant
decodes to well-formed samples or raises BadAudio with a code and a message; nothing else
escapes and nothing runs away with memory (the duration limit holds for every mutant)."""

from __future__ import annotations

import numpy as np
import pytest
from asr_server.audio import decode_audio
from asr_server.errors import BadAudio
from asr_server.types import SAMPLE_RATE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.encode import FLAC, M4A, MP3, OGG_OPUS, WAV_8K_STEREO, WEBM_OPUS, encode

MAX_SECONDS = 8.0
"""The limit the fuzzed decodes run under: a mutant may not decode to more than this."""
CODES = {"empty_audio", "undecodable_audio", "audio_too_long"}


@pytest.fixture(scope="module")
def originals(jfk_clip, mandarin_clip) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """The shared clips as they are, and two seconds of jfk in every other container."""
    speech = decode_audio(jfk_clip.path.read_bytes())[: 2 * SAMPLE_RATE]
    files = {
        "jfk.flac": jfk_clip.path.read_bytes(),
        "mandarin.wav": mandarin_clip.path.read_bytes(),
    }
    for target in (MP3, OGG_OPUS, WAV_8K_STEREO, FLAC, M4A, WEBM_OPUS):
        files[target.container] = encode(speech, SAMPLE_RATE, target)
    return files


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` after one to four edits, weighted toward the header where parsers branch."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        near_head = draw(st.booleans())
        at = draw(st.integers(0, min(len(out) - 1, 256) if near_head else len(out) - 1))
        kind = draw(st.sampled_from(["truncate", "flip", "set", "insert", "delete", "dup"]))
        if kind == "truncate":
            del out[at:]
        elif kind == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":  # header fields: sizes, rates, channel counts at their extremes
            value = draw(st.sampled_from([b"\x00" * 4, b"\xff" * 4, b"\x7f\xff\xff\xff"]))
            out[at : at + len(value)] = value
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 512))]
        else:  # a run repeated: chunk boundaries and packet sizes no longer agree
            run = out[at : at + draw(st.integers(1, 4096))]
            out[at:at] = run * draw(st.integers(1, 8))
    return bytes(out)


NAMES = ["jfk.flac", "mandarin.wav", "mp3", "ogg", "wav", "flac", "ipod", "webm"]


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=150,
    deadline=None,  # no timing assertion: a hang fails the run, a slow decode does not
    derandomize=True,  # seeded: the same mutants every run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_file_is_audio_or_a_bad_audio_error(
    originals: dict[str, bytes], name: str, data: st.DataObject
) -> None:
    mutant = data.draw(mutations(originals[name]), label="mutant")
    try:
        audio = decode_audio(mutant, max_seconds=MAX_SECONDS)
    except BadAudio as exc:
        assert exc.code in CODES, exc.code
        assert exc.message
        return
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0 < len(audio) <= MAX_SECONDS * SAMPLE_RATE
    assert np.isfinite(audio).all()
