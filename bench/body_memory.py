"""Memory of request bodies under a flood of large uploads (issue 13): the body budget
(`ASR_MAX_BODIES_MB`) against the same server with no budget in effect.

    .venv/bin/python bench/body_memory.py                 # 48 clients x 20 MB, budget 128 MB
    .venv/bin/python bench/body_memory.py --clients 96 --body-mb 30

Each client posts one multipart upload to /v1/audio/transcriptions with its Content-Length
declared: all but the last megabyte at once, then it waits until every client has sent as
much (or been answered) and holds the last megabyte for `--hold` seconds before sending it,
so that every body the server reads is in its memory at the same time. The server's RSS (and
its children's) is sampled every 20 ms from before the first byte to the last answer. The
payload is not audio, so a body read whole is answered 400 at once; one the budget refuses is
answered 429 `bodies_full` before any of it is read. Every request must get a 4xx.

Figures, per server: the peak RSS growth over the idle server, and the answers. The anchor is
the server with `ASR_MAX_BODIES_MB` far above the flood (100000: no budget in effect), started
in the same run. Target: growth with the budget <= 1.5x the budget, whatever the flood.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import our_server
from overload import model_dir, rss_mb

REPO = Path(__file__).resolve().parent.parent
ROUTE = "/v1/audio/transcriptions"
BOUNDARY = "asrfleet-bench-boundary"
MB = 1 << 20
UNBOUNDED_MB = 100_000
TARGET_GROWTH_RATIO = 1.5
"""Peak RSS growth with the budget at most this times the budget."""


def multipart(body_mb: int) -> tuple[bytes, bytes, bytes]:
    """(head, payload, tail) of a form with a `file` of `body_mb` MB that is not audio."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    payload = os.urandom(MB) * body_mb  # one random megabyte repeated: cheap to make
    return head, payload, f"\r\n--{BOUNDARY}--\r\n".encode()


class Gate:
    """Opens once every client has sent all but the last megabyte, or been answered."""

    def __init__(self, clients: int) -> None:
        self.waiting = clients
        self.opened = asyncio.Event()

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.opened.set()


async def upload(
    http: aiohttp.ClientSession, url: str, body: bytes, gate: Gate, hold: float
) -> str:
    arrived = False

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal arrived
        yield body[:-MB]
        arrived = True
        gate.arrive()
        await gate.opened.wait()
        await asyncio.sleep(hold)
        yield body[-MB:]

    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(body)),
    }
    try:
        async with http.post(url + ROUTE, data=chunks(), headers=headers) as response:
            await response.read()
            return str(response.status)
    except aiohttp.ClientError as exc:  # the connection closed under the upload
        return type(exc).__name__
    finally:
        if not arrived:  # answered before sending most of it: refused unread
            gate.arrive()


async def flood(url: str, pid: int, clients: int, body_mb: int, hold: float) -> dict[str, Any]:
    head, payload, tail = multipart(body_mb)
    body = head + payload + tail
    idle = rss_mb(pid)
    peak = idle
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, await asyncio.to_thread(rss_mb, pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    gate = Gate(clients)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        answers = await asyncio.gather(
            *(upload(http, url, body, gate, hold) for _ in range(clients))
        )
    done.set()
    await sampler
    return {
        "idle": idle,
        "growth": peak - idle,
        "peak": peak,
        "answers": Counter(answers),
        "seconds": time.monotonic() - started,
    }


async def main_async(args: argparse.Namespace) -> int:
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared)")
    print(f"flood: {args.clients} clients x {args.body_mb} MB bodies, held {args.hold:g} s")
    runs = {}
    for budget in (args.budget_mb, UNBOUNDED_MB):
        settings = {"ASR_MAX_BODIES_MB": str(budget), "ASR_MAX_BODY_MB": str(args.body_mb + 2)}
        with our_server(REPO, model_dir(), 4, settings) as server:
            if server.reason:
                print(f"server could not run: {server.reason}")
                return 1
            runs[budget] = await flood(
                server.url, server.pid, args.clients, args.body_mb, args.hold
            )
    print("| ASR_MAX_BODIES_MB | idle RSS MB | peak RSS MB | growth MB | answers |")
    print("|---|---|---|---|---|")
    for budget, run in runs.items():
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(run["answers"].items()))
        label = f"{budget} (none in effect: anchor)" if budget == UNBOUNDED_MB else str(budget)
        print(
            f"| {label} | {run['idle']:.0f} | {run['peak']:.0f} | {run['growth']:.0f} | {answers} |"
        )
    growth, anchor = runs[args.budget_mb]["growth"], runs[UNBOUNDED_MB]["growth"]
    print(f"growth with the budget: x{growth / max(anchor, 1.0):.2f} the anchor's")
    ratio = growth / args.budget_mb
    verdict = "met" if ratio <= TARGET_GROWTH_RATIO else "MISSED"
    print(f"growth / budget: x{ratio:.2f} (target <= {TARGET_GROWTH_RATIO}): {verdict}")
    bad = [a for run in runs.values() for a in run["answers"] if not str(a).startswith("4")]
    print("every request answered 4xx" if not bad else f"NOT every request got a 4xx: {bad}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=48)
    parser.add_argument("--body-mb", type=int, default=20)
    parser.add_argument("--budget-mb", type=int, default=128)
    parser.add_argument("--hold", type=float, default=2.0)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
