"""What the endpoint silence does to segmentation and accuracy: finals and WER per setting.

    .venv/bin/python bench/stream_endpointing.py                  # 300, 400, 500 ms
    .venv/bin/python bench/stream_endpointing.py --silences 200,300,500 --skip-mandarin

Clips: jfk and the seven espeak-ng sentences of tests/support/speech_clips.py (whisper-tiny.en),
the same sentences with a hesitation in the middle (an SSML break of --hesitation-ms, 400 by
default: the VAD hears 350-510 ms below its end threshold), and the Mandarin AISHELL clip
(whisper-base; --skip-mandarin leaves it out). Every clip goes through a real StreamSession
built from ServerConfig(ASR_STREAM_ENDPOINT_SILENCE_MS=...), as fast as it can (no pacing, no
partials), with the server's stream decodes (trimmed context, one greedy pass, the second
chance). Each decode is a blocking whisper call on the event loop, so the cuts depend on the
audio only, never on timing. Per setting it prints every clip's finals and the WER (CER for
Mandarin) of its joined finals, per group of clips the mean and the finals, the decodes it
took, each clip's pauses as the VAD hears them, and the finals that differ from the last
setting's.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from asr_server.config import ServerConfig  # noqa: E402
from asr_server.engines.base import EngineError  # noqa: E402
from asr_server.engines.whisper.engine import WhisperEngine  # noqa: E402
from asr_server.engines.whisper.options import WhisperOptions  # noqa: E402
from asr_server.streaming.hub import StreamLimits  # noqa: E402
from asr_server.streaming.protocol import Final, ServerMessage, StartMessage  # noqa: E402
from asr_server.streaming.session import StreamSession  # noqa: E402
from asr_server.streaming.vad import WINDOW_SAMPLES, EndpointSettings, SileroStream  # noqa: E402
from asr_server.types import SAMPLE_RATE, Audio, TranscribeOptions, Transcription  # noqa: E402
from faster_whisper import decode_audio  # noqa: E402
from support.speech_clips import PHRASES, Speech  # noqa: E402
from support.text import char_error_rate, word_error_rate  # noqa: E402

REPO = HERE.parent
AUDIO = REPO.parent / "shared" / "audio"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
MANDARIN = ("BAC009S0764W0121.wav", "甚至出现交易几乎停滞的情况")
FRAME = 1600
"""100 ms, as the CLI sends."""


@dataclass
class Clip:
    speech: Speech
    group: str
    """`natural`, `hesitation` or `mandarin`."""
    model: str = "tiny"
    language: str | None = None

    @property
    def error_rate(self) -> str:
        return "CER" if self.language == "zh" else "WER"


@dataclass
class Run:
    finals: list[str]
    decodes: int
    seconds: float

    @property
    def text(self) -> str:
        return " ".join(t for t in self.finals if t)


def english_clips(workdir: Path, hesitation_ms: int) -> list[Clip]:
    clips = [Clip(Speech("jfk", decode_audio(str(AUDIO / "jfk.flac")), JFK_TEXT), "natural")]
    for number, phrase in enumerate(PHRASES):
        audio = espeak(workdir / f"phrase{number}.wav", phrase)
        clips.append(Clip(Speech(f"phrase{number}", audio, phrase), "natural"))
    for number, phrase in enumerate(PHRASES):
        words = phrase.split()
        middle = len(words) // 2
        pause = f'<break time="{hesitation_ms}ms"/>'
        ssml = f"{' '.join(words[:middle])} {pause} {' '.join(words[middle:])}"
        audio = espeak(workdir / f"hesitant{number}.wav", f"<speak>{ssml}</speak>")
        clips.append(Clip(Speech(f"phrase{number}+{hesitation_ms}", audio, phrase), "hesitation"))
    return clips


def espeak(wav: Path, text: str) -> Audio:
    subprocess.run(["espeak-ng", "-m", "-v", "en-us", "-w", str(wav), text], check=True)
    audio: Audio = decode_audio(str(wav))
    return audio


def mandarin_clip() -> Clip:
    name, text = MANDARIN
    return Clip(Speech("mandarin", decode_audio(str(AUDIO / name)), text), "mandarin", "base", "zh")


def pauses_ms(audio: Audio) -> list[int]:
    """Runs of VAD windows below the end threshold between speech windows, >= 64 ms."""
    settings, probs = EndpointSettings(), SileroStream().feed(audio)
    onset = next((i for i, p in enumerate(probs) if p >= settings.threshold), len(probs))
    runs, run = [], 0
    for prob in probs[onset:]:
        if prob < settings.neg_threshold:
            run += 1
            continue
        if run >= 2:
            runs.append(run * WINDOW_SAMPLES * 1000 // SAMPLE_RATE)
        run = 0
    return runs


def load_engine(model: str, model_dir: Path) -> WhisperEngine:
    engine = WhisperEngine(ServerConfig.from_env({}, model=model, model_dir=model_dir))
    engine.load()
    return engine


async def stream(engine: WhisperEngine, clip: Clip, silence_ms: int) -> Run:
    config = ServerConfig.from_env({"ASR_STREAM_ENDPOINT_SILENCE_MS": str(silence_ms)})
    finals: list[str] = []
    decodes = 0

    async def decode(
        audio: Audio, options: TranscribeOptions, kind: str, *_: float
    ) -> Transcription:
        nonlocal decodes
        decodes += 1
        result = engine.transcribe_batch([(audio, options)])[0]  # blocking on purpose
        if isinstance(result, EngineError):
            raise result
        return result

    async def emit(message: ServerMessage) -> None:
        if isinstance(message, Final):
            finals.append(message.text)

    start = StartMessage(language=clip.language, interim_results=False)
    settings = StreamLimits.from_config(config, engine.stream_quality()).session
    session = StreamSession(start, settings, decode, emit)
    session.start()
    started = time.monotonic()
    pcm = (np.clip(clip.speech.audio, -1, 1) * 32767).astype("<i2").tobytes()
    for i in range(0, len(pcm), FRAME * 2):
        session.feed(pcm[i : i + FRAME * 2])
        await asyncio.sleep(0)
    await session.finish()
    return Run(finals, decodes, time.monotonic() - started)


def error_rate(clip: Clip, text: str) -> float:
    if clip.language == "zh":
        return char_error_rate(clip.speech.reference, text)
    return word_error_rate(clip.speech.reference, text)


async def measure(
    clips: list[Clip], engines: dict[str, WhisperEngine], silences: list[int]
) -> None:
    runs = {
        (clip.speech.name, ms): await stream(engines[clip.model], clip, ms)
        for ms in silences
        for clip in clips
    }
    width = max(20, *(len(c.speech.name) for c in clips)) + 2
    print(f"\n{'finals / error rate':<{width}}" + "".join(f"{ms:>16} ms" for ms in silences))
    for clip in clips:
        cells = "".join(
            f"{len(run.finals):>11} / {error_rate(clip, run.text):.3f}"
            for run in (runs[(clip.speech.name, ms)] for ms in silences)
        )
        print(f"{clip.speech.name:<{width}}{cells}   ({clip.error_rate})")
    groups = {c.group: [g for g in clips if g.group == c.group] for c in clips}
    rows: dict[str, list[float]] = {}
    for name, group in groups.items():
        by_setting = [[runs[(c.speech.name, ms)] for c in group] for ms in silences]
        rows[f"mean ER, {name}"] = [
            sum(error_rate(c, r.text) for c, r in zip(group, setting, strict=True)) / len(group)
            for setting in by_setting
        ]
        rows[f"finals, {name}"] = [sum(len(r.finals) for r in setting) for setting in by_setting]
    every = [[runs[(c.speech.name, ms)] for c in clips] for ms in silences]
    rows["decodes, all clips"] = [sum(r.decodes for r in setting) for setting in every]
    rows["seconds, all clips"] = [sum(r.seconds for r in setting) for setting in every]
    for label, values in rows.items():
        print(f"{label:<{width}}" + "".join(f"{value:>19.3g}" for value in values))
    print("\npauses the VAD hears inside each clip (ms below the end threshold, >= 64 ms):")
    for clip in clips:
        print(f"  {clip.speech.name:<{width}}{pauses_ms(clip.speech.audio)}")
    reference = silences[-1]
    print(f"\nfinals that differ from {reference} ms:")
    for clip in clips:
        base = runs[(clip.speech.name, reference)]
        differ = [ms for ms in silences[:-1] if runs[(clip.speech.name, ms)].finals != base.finals]
        if differ:
            print(f"  {clip.speech.name} at {reference} ms: {base.finals}")
        for ms in differ:
            print(
                f"  {' ' * len(clip.speech.name)} at {ms} ms: {runs[(clip.speech.name, ms)].finals}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--silences", default="300,400,500", help="ms, comma-separated")
    parser.add_argument("--skip-mandarin", action="store_true", help="no whisper-base clip")
    parser.add_argument(
        "--hesitation-ms", type=int, default=400, help="break in the middle of each sentence"
    )
    parser.add_argument(
        "--model-dir", type=Path, default=REPO / ".cache" / "models", help="whisper-base cache"
    )
    args = parser.parse_args()
    silences = sorted(int(ms) for ms in args.silences.split(","))
    with tempfile.TemporaryDirectory() as workdir:
        clips = english_clips(Path(workdir), args.hesitation_ms)
    engines = {"tiny": load_engine("whisper-tiny.en", args.model_dir)}
    if not args.skip_mandarin:
        clips.append(mandarin_clip())
        engines["base"] = load_engine("whisper-base", args.model_dir)
    anchor = clips[0].speech.audio[int(5.2 * SAMPLE_RATE) : int(7.9 * SAMPLE_RATE)]
    started = time.monotonic()
    trimmed = TranscribeOptions(engine=WhisperOptions(encoder_context="trimmed"))
    engines["tiny"].transcribe_batch([(anchor, trimmed)])
    print(f"anchor: one trimmed decode of 2.7 s of jfk took {time.monotonic() - started:.2f} s")
    asyncio.run(measure(clips, engines, silences))


if __name__ == "__main__":
    main()
