"""Accuracy and cost of each engine x compute type x beam size, against faster-whisper itself.

One table: WER (English: jfk plus espeak-ng sentences, whisper-tiny.en) or CER (Mandarin: the
recorded clips of ../shared/audio, whisper-base, scored in simplified characters), the
real-time factor (decode wall seconds / audio seconds; and CPU seconds / audio seconds, steadier
on a shared machine), the peak RSS of the process, and how many transcripts equal the anchor's.
The anchor is faster-whisper's own `WhisperModel.transcribe` called in-process at the same
compute type and beam size (temperature fallback on, as the engines); the engines are this
server's `faster-whisper` engine (its batched decoder, what the HTTP routes use) and the
`torch` engine. Each (engine, model, compute type) runs in a process of its own so that its
peak RSS is its own, and the three are loaded together: each timed clip goes to the anchor and
then to each engine in turn (per clip the median of `--repeats` rounds), so that the shared
machine's changing load falls on all alike. The torch engine's model cache is filled first (its
conversion and int8 quantisation, once per cache, their peak RSS printed apart), so the table
measures the starts that follow. Ratios are against the anchor of the same row group, in the
same run. Then a hotword table: recall of the rare words of tests/support/rare_words.py and
WER with no hotwords, with prompt-style hotwords (faster-whisper's `hotwords`, and the torch
engine's prompt mode), with decoder biasing, and jfk with unrelated hotwords.

Run: `.venv/bin/python bench/accuracy.py` (a few minutes; `--quick` for beam 1 and float32
only). The load average is printed: the machine may be shared, so compare ratios, not times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
AUDIO = ROOT.parent / "shared" / "audio"

ENGINES = ("library", "faster-whisper", "torch")
"""`library` is the anchor: faster_whisper.WhisperModel.transcribe in-process."""
TARGET_RTF_RATIO = 1.5
TARGET_RSS_RATIO = 2.0
"""Issue 15's cost targets for the torch engine beside faster-whisper (same precision, beam)."""


@dataclass(frozen=True)
class Clip:
    name: str
    path: str
    language: str
    reference: str
    hotwords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    engine: str
    model: str
    compute_type: str
    beams: tuple[int, ...]
    clips: tuple[Clip, ...]
    model_dir: str
    threads: int
    repeats: int
    hotword_modes: tuple[str, ...] = ()
    """Non-empty: a hotword job (beam 5): each mode's texts of each clip."""


# ---------------------------------------------------------------- worker (one process each)


def make_transcriber(job: Job, hotword_mode: str = "decoder") -> Any:
    """A function (audio, language, beam, hotwords) -> text for the job's engine."""
    from asr_server.config import ServerConfig
    from asr_server.engines.whisper.catalogue import resolve_model
    from asr_server.types import TranscribeOptions

    model_dir = Path(job.model_dir)
    if job.engine == "library":
        from faster_whisper import WhisperModel

        model = WhisperModel(
            str(resolve_model(job.model, model_dir)),
            device="cpu",
            compute_type=job.compute_type,
            cpu_threads=job.threads,
        )

        def library(audio: Any, language: str | None, beam: int, hotwords: str | None) -> str:
            segments, _ = model.transcribe(
                audio, language=language, beam_size=beam, hotwords=hotwords
            )
            return "".join(s.text for s in segments).strip()

        return library
    engine: Any
    if job.engine == "faster-whisper":
        from asr_server.engines.whisper.engine import WhisperEngine

        engine = WhisperEngine(
            ServerConfig(model=job.model, model_dir=model_dir, compute_type=job.compute_type)
        )
    else:
        from asr_server.engines.torch.engine import TorchEngineOptions, TorchWhisperEngine

        engine = TorchWhisperEngine(
            TorchEngineOptions(
                model=job.model,
                model_dir=model_dir,
                compute_type=job.compute_type,
                cpu_threads=job.threads,
                hotword_mode=hotword_mode,
            )
        )
    engine.load()

    def ours(audio: Any, language: str | None, beam: int, hotwords: str | None) -> str:
        options = TranscribeOptions(language=language, hotwords=hotwords, beam_size=beam)
        item = (audio, options)
        result = engine.transcribe_batch([item])[0]
        if isinstance(result, Exception):
            raise result
        return str(result.text)

    return ours


def run_job(job: Job) -> dict[str, Any]:
    """A one-shot job: a first start (no beams) or a hotword job."""
    from asr_server.audio import decode_audio

    if not job.beams:  # a first start: fills the model cache (conversion, int8), measures it
        make_transcriber(job)
        return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    audio = {c.name: decode_audio(Path(c.path).read_bytes()) for c in job.clips}
    return {"hotwords": {mode: hotword_texts(job, mode, audio) for mode in job.hotword_modes}}


def serve_job(job: Job, requests: TextIO, replies: TextIO) -> None:
    """A timing worker: loads the job's engine, then transcribes one clip per request line
    (`{"clip", "beam"}`) and replies with its text, wall and CPU seconds; `{}` ends it with the
    process's peak RSS. The parent alternates requests between the engines' workers."""
    from asr_server.audio import decode_audio

    audio = {c.name: decode_audio(Path(c.path).read_bytes()) for c in job.clips}
    clips = {c.name: c for c in job.clips}
    transcribe = make_transcriber(job)
    first = job.clips[0]
    transcribe(audio[first.name], first.language, 1, None)  # warm-up, not measured
    print(json.dumps({"ready": True}), file=replies, flush=True)
    for line in requests:
        request = json.loads(line)
        if not request:
            break
        clip = clips[request["clip"]]
        started, started_cpu = time.perf_counter(), time.process_time()
        text = transcribe(audio[clip.name], clip.language, request["beam"], None)
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        print(json.dumps({"text": text, "wall": wall, "cpu": cpu}), file=replies, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak}), file=replies, flush=True)


class Worker:
    """A `serve_job` process (its own, so that its peak RSS is its engine's alone)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", json.dumps(asdict(job))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ask(None)

    def ask(self, request: dict[str, Any] | None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if request is not None:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            job = self.job
            raise SystemExit(f"{job.engine}/{job.model}/{job.compute_type} worker failed")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> float:
        peak = float(self.ask({})["peak_mb"])
        self.process.wait()
        return peak


def measure(jobs: dict[str, Job], beams: list[int], repeats: int) -> dict[str, dict[str, Any]]:
    """Each engine's rows (per beam: texts, summed per-clip median wall and CPU seconds) and
    peak RSS. All engines are loaded at once and every clip run goes to each of them in turn,
    so a change in the machine's load falls on anchor and subjects alike."""
    workers = {engine: Worker(job) for engine, job in jobs.items()}
    clips = next(iter(jobs.values())).clips
    results: dict[str, dict[str, Any]] = {engine: {"rows": []} for engine in jobs}
    for beam in beams:
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(repeats):
            for clip in clips:
                for engine, worker in workers.items():
                    reply = worker.ask({"clip": clip.name, "beam": beam})
                    runs.setdefault((engine, clip.name), []).append(reply)
        for engine in jobs:
            done = [runs[(engine, c.name)] for c in clips]
            results[engine]["rows"].append({
                "beam": beam,
                "texts": {c.name: r[-1]["text"] for c, r in zip(clips, done, strict=True)},
                "wall": sum(statistics.median(x["wall"] for x in r) for r in done),
                "cpu": sum(statistics.median(x["cpu"] for x in r) for r in done),
            })  # fmt: skip
    for engine, worker in workers.items():
        results[engine]["peak_mb"] = worker.close()
    return results


def hotword_texts(job: Job, mode: str, audio: dict[str, Any]) -> dict[str, str]:
    """Texts of each clip at beam 5 with the clip's hotwords used as `mode` says: `none`,
    `prompt` (faster-whisper's hotwords for the library), `decoder`, `both`."""
    transcribe = make_transcriber(job, "decoder" if mode in ("none", "library") else mode)
    texts = {}
    for clip in job.clips:
        hotwords = ", ".join(clip.hotwords) if mode != "none" and clip.hotwords else None
        texts[clip.name] = transcribe(audio[clip.name], clip.language, 5, hotwords)
    return texts


# ---------------------------------------------------------------- orchestration


def english_clips(directory: Path) -> list[Clip]:
    from support.speech_clips import PHRASES

    clips = [Clip("jfk", str(AUDIO / "jfk.flac"), "en", transcript("jfk.flac"))]
    for number, phrase in enumerate(PHRASES):
        clips.append(Clip(f"phrase{number}", str(espeak(phrase, directory, f"phrase{number}")),
                          "en", phrase))  # fmt: skip
    return clips


def mandarin_clips() -> list[Clip]:
    with (AUDIO / "transcripts.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [Clip(r["file"], str(AUDIO / r["file"]), "zh", r["transcript"])
            for r in rows if r["language"] == "zh"]  # fmt: skip


def rare_clips(directory: Path) -> list[Clip]:
    """The rare-word sentences, each with its hotwords."""
    from support.rare_words import RARE_SENTENCES

    return [Clip(f"rare{i}", str(espeak(s.text, directory, f"rare{i}")), "en", s.text, s.hotwords)
            for i, s in enumerate(RARE_SENTENCES)]  # fmt: skip


def transcript(name: str) -> str:
    with (AUDIO / "transcripts.tsv").open(encoding="utf-8") as handle:
        return next(r["transcript"] for r in csv.DictReader(handle, delimiter="\t")
                    if r["file"] == name)  # fmt: skip


def espeak(text: str, directory: Path, name: str) -> Path:
    wav = directory / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
    return wav


def seconds_of(clips: list[Clip]) -> float:
    import av

    total = 0.0
    for clip in clips:
        with av.open(clip.path) as container:
            stream = container.streams.audio[0]
            total += float(stream.duration * stream.time_base) if stream.duration else 0.0
    return total


def spawn(job: Job) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(asdict(job))],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{job.engine}/{job.model}/{job.compute_type} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def error_rate(clip: Clip, text: str) -> float:
    from asr_server.text import convert_script
    from support.text import char_error_rate, word_error_rate

    if clip.language == "zh":
        return char_error_rate(clip.reference, convert_script(text, "simplified"))
    return word_error_rate(clip.reference, text)


def print_table(groups: list[tuple[str, list[Clip], dict[tuple[str, str], dict[str, Any]]]],
                compute_types: list[str], beams: list[int]) -> list[str]:  # fmt: skip
    header = (f"{'model':<16} {'set':<9} {'compute':<8} {'beam':>4} {'engine':<15} {'err':>6} "
              f"{'RTF':>6} {'xRTF':>5} {'cpuRTF':>6} {'xCPU':>5} {'RSS MB':>7} {'xRSS':>5} "
              f"{'=anchor':>7}")  # fmt: skip
    print(header)
    print("-" * len(header))
    verdicts = []
    for model, clips, results in groups:
        seconds = seconds_of(clips)
        label = f"{'zh' if clips[0].language == 'zh' else 'en'} ({len(clips)})"
        for compute in compute_types:
            anchor = results[("library", compute)]
            for beam_index, beam in enumerate(beams):
                base = anchor["rows"][beam_index]
                for engine in ENGINES:
                    result = results[(engine, compute)]
                    row = result["rows"][beam_index]
                    err = statistics.mean(error_rate(c, row["texts"][c.name]) for c in clips)
                    same = sum(row["texts"][c.name] == base["texts"][c.name] for c in clips)
                    rtf, cpu = row["wall"] / seconds, row["cpu"] / seconds
                    x_rtf, x_cpu = row["wall"] / base["wall"], row["cpu"] / base["cpu"]
                    x_rss = result["peak_mb"] / anchor["peak_mb"]
                    peak = result["peak_mb"]
                    print(f"{model:<16} {label:<9} {compute:<8} {beam:>4} {engine:<15} "
                          f"{err:>6.3f} {rtf:>6.3f} {x_rtf:>5.2f} {cpu:>6.3f} {x_cpu:>5.2f} "
                          f"{peak:>7.0f} {x_rss:>5.2f} {same:>3}/{len(clips):<3}")  # fmt: skip
                    if engine == "torch":
                        met = x_rtf <= TARGET_RTF_RATIO and x_rss <= TARGET_RSS_RATIO
                        verdicts.append(
                            f"torch {model} {compute} beam {beam}: RTF x{x_rtf:.2f} (CPU "
                            f"x{x_cpu:.2f}), RSS x{x_rss:.2f} -> "
                            f"{'met' if met else 'NOT met'} (targets <= {TARGET_RTF_RATIO}, "
                            f"<= {TARGET_RSS_RATIO})"
                        )
    return verdicts


def print_hotwords(clips: list[Clip], jfk: Clip, texts: dict[str, dict[str, str]]) -> None:
    from support.rare_words import hotword_hits
    from support.text import word_error_rate

    print(f"\n{'hotwords (whisper-tiny.en, float32, beam 5)':<46} {'recall':>8} {'WER':>6} "
          f"{'jfk WER, unrelated hotwords':>28}")  # fmt: skip
    total = sum(len(c.hotwords) for c in clips)
    for label, key in (
        ("none", "torch:none"),
        ("prompt: faster-whisper's hotwords (anchor)", "library:library"),
        ("prompt: torch engine, hotword_mode=prompt", "torch:prompt"),
        ("decoder biasing: torch engine (default)", "torch:decoder"),
        ("both: torch engine, hotword_mode=both", "torch:both"),
    ):
        result = texts[key]
        hits = sum(hotword_hits(c.hotwords, result[c.name]) for c in clips)
        wer = statistics.mean(word_error_rate(c.reference, result[c.name]) for c in clips)
        jfk_wer = word_error_rate(jfk.reference, result[jfk.name])
        print(f"{label:<46} {hits:>3}/{total:<4} {wer:>6.3f} {jfk_wer:>28.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="beam 1, float32 only")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: the CPU limit)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per clip (median)")
    parser.add_argument("--no-hotwords", action="store_true", help="skip the hotword table")
    args = parser.parse_args()
    if args.worker or args.serve:
        raw = json.loads(args.worker or args.serve)
        raw["clips"] = tuple(Clip(**{**c, "hotwords": tuple(c["hotwords"])}) for c in raw["clips"])
        job = Job(**{**raw, "beams": tuple(raw["beams"]),
                     "hotword_modes": tuple(raw["hotword_modes"])})  # fmt: skip
        if args.worker:
            print(json.dumps(run_job(job)))
            return 0
        # Replies on a private copy of stdout; anything else the engines print goes to stderr.
        replies = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
        serve_job(job, sys.stdin, replies)
        return 0
    from asr_server.engines.hardware import container_cpu_limit, cpu_threads

    threads = args.threads or cpu_threads(container_cpu_limit())
    compute_types = ["float32"] if args.quick else ["int8", "float32"]
    beams = [1] if args.quick else [1, 5]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{threads} CPU threads per engine")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="asr-accuracy-") as temp:
        directory, model_dir = Path(temp), Path(temp) / "models"
        sets = [("whisper-tiny.en", english_clips(directory)), ("whisper-base", mandarin_clips())]
        groups, first_starts = [], []
        for model, clips in sets:
            results = {}
            for compute in compute_types:
                # The torch engine converts (and for int8 quantises) once per model cache; the
                # table measures later starts, as a server with a filled cache makes them.
                job = Job("torch", model, compute, (), tuple(clips), str(model_dir), threads, 1)
                first_starts.append(f"torch {model} {compute}: {spawn(job)['peak_mb']:.0f} MB")
                jobs = {engine: Job(engine, model, compute, tuple(beams), tuple(clips),
                                    str(model_dir), threads, args.repeats)
                        for engine in ENGINES}  # fmt: skip
                for engine, result in measure(jobs, beams, args.repeats).items():
                    results[(engine, compute)] = result
            groups.append((model, clips, results))
        verdicts = print_table(groups, compute_types, beams)
        if not args.no_hotwords:
            from support.rare_words import UNRELATED_HOTWORDS

            rare = rare_clips(directory)
            jfk = groups[0][1][0]
            unrelated = Clip(jfk.name, jfk.path, "en", jfk.reference, UNRELATED_HOTWORDS)
            texts = {}
            for engine, modes in (("torch", ("none", "prompt", "decoder", "both")),
                                  ("library", ("library",))):  # fmt: skip
                job = Job(engine, "whisper-tiny.en", "float32", (5,), (*rare, unrelated),
                          str(model_dir), threads, 1, modes)  # fmt: skip
                for mode, result in spawn(job)["hotwords"].items():
                    texts[f"{engine}:{mode}"] = result
            print_hotwords(rare, Clip(jfk.name, jfk.path, "en", jfk.reference), texts)
    print("\npeak RSS of the torch engine's first start (filling the model cache): "
          + "; ".join(first_starts))  # fmt: skip
    print()
    for verdict in verdicts:
        print(verdict)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
