"""Audio decoding cost per request, against faster-whisper's own decoder as the anchor.

Every HTTP request pays `asr_server.audio.decode_audio` before it is queued; this prints its
time per clip for several containers and the ratio to `faster_whisper.decode_audio` on the same
bytes in the same run (ratio < 1: ours is faster). Also: the share of a tiny.en transcription
that decoding costs. Run: `.venv/bin/python bench/audio_decode.py` (never part of make test).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import faster_whisper  # noqa: E402
from asr_server.audio import decode_audio  # noqa: E402
from asr_server.config import ServerConfig  # noqa: E402
from asr_server.engines.whisper.engine import WhisperEngine  # noqa: E402
from asr_server.types import SAMPLE_RATE, TranscribeOptions  # noqa: E402
from support.encode import FLAC, MP3, OGG_OPUS, WAV_8K_STEREO, encode  # noqa: E402
from timing import median_seconds  # noqa: E402

JFK = ROOT.parent / "shared" / "audio" / "jfk.flac"
REPEATS = 15


def main() -> None:
    samples = decode_audio(JFK.read_bytes())
    clips = {"flac (44.1k stereo, original)": JFK.read_bytes()}
    for target in (FLAC, MP3, OGG_OPUS, WAV_8K_STEREO):
        clips[f"{target.container} {target.sample_rate // 1000}k/{target.channels}ch"] = encode(
            samples, SAMPLE_RATE, target
        )
    print(f"{'clip (11 s of speech)':<32} {'ours ms':>8} {'anchor ms':>10} {'ratio':>6}")
    for name, data in clips.items():
        ours = median_seconds(lambda data=data: decode_audio(data), REPEATS)
        anchor = median_seconds(
            lambda data=data: faster_whisper.decode_audio(io.BytesIO(data)), REPEATS
        )
        print(f"{name:<32} {ours * 1e3:>8.1f} {anchor * 1e3:>10.1f} {ours / anchor:>6.2f}")
    engine = WhisperEngine(ServerConfig(model="whisper-tiny.en"))
    engine.load()
    decode_s = median_seconds(lambda: decode_audio(clips["flac (44.1k stereo, original)"]), REPEATS)
    transcribe_s = median_seconds(lambda: engine.transcribe(samples, TranscribeOptions()), 5)
    print(
        f"tiny.en transcribe of the same clip: {transcribe_s * 1e3:.0f} ms; decoding is "
        f"{decode_s / transcribe_s:.1%} of it"
    )


if __name__ == "__main__":
    main()
