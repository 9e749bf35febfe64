"""What a wider beam costs and gains on this CPU: the server at each beam size and compute type,
against faster-whisper itself at the same settings in the same run.

    .venv/bin/python bench/decoding.py                    # beams 1 5 10, int8 and float32
    .venv/bin/python bench/decoding.py --beams 1 5 --repeats 1
    .venv/bin/python bench/decoding.py --sets english --cpu-layout single

For each set and compute type, `asr-server serve` runs in a process of its own (result cache
off, the compute type as ASR_COMPUTE_TYPE, `--cpu-layout` as ASR_CPU_LAYOUT) and every clip is
posted to /v1/audio/transcriptions with the `beam_size` form field, one request at a time; the
anchor is faster-whisper's `WhisperModel.transcribe` in a fresh bench process per compute type
on the same samples, with the same model, compute type, beam size, language and CPU threads.
Server and library runs alternate, so both see the same load. Printed per row: WER (English,
digits read as words) or CER (Mandarin, simplified characters) of the server and of the
library, how many texts are identical, the real-time factor (decode wall seconds / audio
seconds, median of the repeats per clip) of both, their ratio, and the row's RTF against beam 1
at the same compute type (the cost of the beam).

Sets: English, whisper-tiny.en: jfk (11 s) and seven espeak-ng sentences. Mandarin,
whisper-base: ../shared/audio/BAC009S0764W0121.wav (the one real Mandarin recording here) and
five variants of it made with sox and a seeded noise generator (speed 0.9 and 1.1, white noise
at 15 and 5 dB SNR, telephone band), still one sentence: read its CER as a sign, not a measure.

The machine is shared: the load average is printed; compare ratios, not times.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from asr_server.audio import decode_audio  # noqa: E402
from asr_server.engines.hardware import container_cpu_limit, cpu_threads  # noqa: E402
from asr_server.engines.whisper.catalogue import resolve_model  # noqa: E402
from asr_server.text import convert_script  # noqa: E402
from asr_server.types import SAMPLE_RATE  # noqa: E402
from bench_http import our_server  # noqa: E402
from support.speech_clips import PHRASES  # noqa: E402
from support.text import char_error_rate, edit_distance, spoken_words  # noqa: E402

AUDIO = ROOT.parent / "shared" / "audio"
COMPUTE_TYPES = ("int8", "float32")


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    reference: str


@dataclass(frozen=True)
class Set:
    title: str
    model: str
    language: str
    clips: tuple[Clip, ...]

    def error(self, reference: str, text: str) -> float:
        if self.language == "zh":
            return char_error_rate(reference, text)
        ref = spoken_words(reference)
        return edit_distance(ref, spoken_words(text)) / max(len(ref), 1)

    @property
    def metric(self) -> str:
        return "CER" if self.language == "zh" else "WER"


@dataclass
class Row:
    compute_type: str
    beam: int
    server_texts: dict[str, str] = field(default_factory=dict)
    library_texts: dict[str, str] = field(default_factory=dict)
    server_wall: float = 0.0
    library_wall: float = 0.0


def transcript(name: str) -> str:
    with (AUDIO / "transcripts.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return next(r["transcript"] for r in rows if r["file"] == name)


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)


def english(directory: Path) -> Set:
    clips = [Clip("jfk", AUDIO / "jfk.flac", transcript("jfk.flac"))]
    for number, phrase in enumerate(PHRASES):
        wav = directory / f"phrase{number}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), phrase], check=True)
        clips.append(Clip(f"phrase{number}", wav, phrase))
    return Set("English", "whisper-tiny.en", "en", tuple(clips))


def mandarin(directory: Path) -> Set:
    name = "BAC009S0764W0121.wav"
    source, reference = AUDIO / name, transcript(name)
    clips = [Clip("BAC009", source, reference)]
    for label, effect in [
        ("speed0.9", ["speed", "0.9"]),
        ("speed1.1", ["speed", "1.1"]),
        ("phone", ["rate", "8000", "rate", "16000"]),
    ]:
        out = directory / f"zh-{label}.wav"
        subprocess.run(["sox", str(source), "-r", "16000", str(out), *effect], check=True)
        clips.append(Clip(label, out, reference))
    speech = decode_audio(source.read_bytes())
    noise = np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32)
    for snr in (15, 5):
        gain = np.sqrt(np.mean(speech**2) / (np.mean(noise**2) * 10 ** (snr / 10)))
        out = directory / f"zh-noise{snr}.wav"
        write_wav(out, speech + gain * noise)
        clips.append(Clip(f"noise{snr}dB", out, reference))
    return Set("Mandarin", "whisper-base", "zh", tuple(clips))


def post(url: str, clip: Clip, data: bytes, language: str, beam: int) -> str:
    response = requests.post(
        f"{url}/v1/audio/transcriptions",
        files={"file": (clip.path.name, data)},
        data={"model": "whisper-1", "language": language, "beam_size": str(beam)},
        timeout=600,
    )
    response.raise_for_status()
    return str(response.json()["text"])


def measure(
    chosen: Set, compute_type: str, beams: list[int], repeats: int, model_dir: Path, layout: str
) -> list[Row]:
    from faster_whisper import WhisperModel

    threads = cpu_threads(container_cpu_limit())
    path = resolve_model(chosen.model, model_dir)
    library = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads)
    files = {clip.name: clip.path.read_bytes() for clip in chosen.clips}
    samples = {name: decode_audio(data) for name, data in files.items()}  # the server's decode
    settings = {
        "ASR_COMPUTE_TYPE": compute_type,
        "ASR_MODEL_DIR": str(model_dir),
        "ASR_CPU_LAYOUT": layout,
    }
    rows = []
    with our_server(ROOT, chosen.model, 4, settings) as server:
        if server.reason:
            raise SystemExit(f"asr-server could not run: {server.reason}")
        first = chosen.clips[0]
        post(server.url, first, files[first.name], chosen.language, 1)  # warm-up
        library.transcribe(samples[first.name], language=chosen.language)
        for beam in beams:
            row = Row(compute_type, beam)
            for clip in chosen.clips:
                server_walls, library_walls = [], []
                for repeat in range(repeats):
                    for side in ("server", "library") if repeat % 2 == 0 else ("library", "server"):
                        started = time.perf_counter()
                        if side == "server":
                            text = post(server.url, clip, files[clip.name], chosen.language, beam)
                            server_walls.append(time.perf_counter() - started)
                            row.server_texts[clip.name] = text
                        else:
                            segments, _ = library.transcribe(
                                samples[clip.name], language=chosen.language, beam_size=beam
                            )
                            text = "".join(s.text for s in segments).strip()
                            library_walls.append(time.perf_counter() - started)
                            if chosen.language == "zh":  # the server's output script
                                text = convert_script(text, "simplified")
                            row.library_texts[clip.name] = text
                row.server_wall += statistics.median(server_walls)
                row.library_wall += statistics.median(library_walls)
            rows.append(row)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"  {chosen.title} {compute_type} beam {beam}: done (load {load})", flush=True)
    return rows


def report(chosen: Set, rows: list[Row]) -> None:
    audio_s = sum(len(decode_audio(c.path.read_bytes())) for c in chosen.clips) / SAMPLE_RATE
    greedy = {r.compute_type: r for r in rows if r.beam == 1}
    metric = chosen.metric
    print(
        f"\n{chosen.title}: {chosen.model}, {len(chosen.clips)} clips, {audio_s:.1f} s of audio\n"
        f"{'compute':8} {'beam':>4} {'server ' + metric:>10} {'library ' + metric:>11} "
        f"{'same text':>9} {'server RTF':>10} {'library RTF':>11} {'ratio':>6} "
        f"{'RTF vs beam 1':>13}"
    )
    for row in rows:
        references = {c.name: c.reference for c in chosen.clips}
        server = statistics.mean(
            chosen.error(references[n], t) for n, t in row.server_texts.items()
        )
        library = statistics.mean(
            chosen.error(references[n], t) for n, t in row.library_texts.items()
        )
        same = sum(row.server_texts[n] == row.library_texts[n] for n in row.server_texts)
        base = greedy.get(row.compute_type)
        cost = f"{row.server_wall / base.server_wall:.2f}x" if base else "-"
        print(
            f"{row.compute_type:8} {row.beam:>4} {server:>10.3f} {library:>11.3f} "
            f"{same:>4}/{len(row.server_texts):<4} {row.server_wall / audio_s:>10.3f} "
            f"{row.library_wall / audio_s:>11.3f} {row.server_wall / row.library_wall:>5.2f}x "
            f"{cost:>13}"
        )
    for row in rows:
        differing = [n for n in row.server_texts if row.server_texts[n] != row.library_texts[n]]
        for name in differing:
            print(f"  differs ({row.compute_type}, beam {row.beam}, {name}):")
            print(f"    server:  {row.server_texts[name]}")
            print(f"    library: {row.library_texts[name]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=["english", "mandarin"])
    parser.add_argument("--cpu-layout", default="auto", help="the servers' ASR_CPU_LAYOUT")
    parser.add_argument(
        "--compute-types", nargs="+", default=list(COMPUTE_TYPES), choices=COMPUTE_TYPES
    )
    args = parser.parse_args()
    if 1 not in args.beams:
        args.beams.insert(0, 1)  # the anchor of the beam's cost
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        model_dir = Path(os.environ.get("ASR_MODEL_DIR", directory / "models"))
        makers = {"english": english, "mandarin": mandarin}
        for name in args.sets:
            chosen = makers[name](directory)
            rows = []
            for compute_type in args.compute_types:
                # A fresh process per compute type: the library's float32 ran 2-3x faster in a
                # process that had run an int8 model before than in a fresh one (the server's
                # always is), which made the anchor depend on the order of the rows.
                with ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn")
                ) as pool:
                    rows += pool.submit(
                        measure,
                        chosen,
                        compute_type,
                        args.beams,
                        args.repeats,
                        model_dir,
                        args.cpu_layout,
                    ).result()
            report(chosen, rows)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
