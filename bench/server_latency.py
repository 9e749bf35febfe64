"""HTTP overhead of asr-server: latency through the server vs the same engine in-process.

Runs `asr-server serve` (whisper-tiny.en, default settings, result cache off) as a subprocess
and, in this process, the same engine. Rounds alternate one HTTP request and one in-process
call, so machine load from elsewhere hits both alike. Prints:

- p50/p95 latency of jfk (11 s) through `POST /v1/recognize` at concurrency 1, and of the
  in-process call (audio decode + `engine.transcribe_batch`, i.e. the same work minus HTTP,
  admission and batching), and their ratio (target: HTTP p50 within 10%);
- peak RSS of the serving process (target < 600 MB);
- server start to the first `/readyz` 200 (target < 3 s), and the CPU time the process used
  until then (what that start costs without the other load on a shared machine).

Usage: .venv/bin/python bench/server_latency.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from asr_server.audio import decode_audio
from asr_server.config import ServerConfig
from asr_server.engines.registry import create_engine
from asr_server.types import TranscribeOptions

REPO = Path(__file__).resolve().parent.parent
JFK = REPO.parent / "shared" / "audio" / "jfk.flac"
ASR_SERVER = Path(sys.executable).parent / "asr-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (a start-up figure other load barely moves)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, timeout_s: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet, or too busy to answer within the second
        time.sleep(0.02)
    raise TimeoutError("server never became ready")


def http_recognize(url: str, data: bytes) -> str:
    request = urllib.request.Request(
        f"{url}/v1/recognize?language=en",
        data=data,
        headers={"Content-Type": "audio/flac"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return str(response.read().decode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    data = JFK.read_bytes()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ASR_CACHE_ENTRIES": "0", "ASR_LOG_FORMAT": "json"}

    launched = time.perf_counter()
    server = subprocess.Popen(
        [str(ASR_SERVER), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url)
        start_to_ready = time.perf_counter() - launched
        ready_cpu = cpu_seconds(server.pid)

        engine = create_engine(ServerConfig(cache_entries=0))
        engine.load()
        options = TranscribeOptions(language="en")

        def in_process() -> str:
            result = engine.transcribe_batch([(decode_audio(data), options)])[0]
            assert not isinstance(result, Exception), result
            return result.text

        http_recognize(url, data)  # warm-up both paths
        in_process()
        http_times: list[float] = []
        local_times: list[float] = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            http_recognize(url, data)
            http_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            in_process()
            local_times.append(time.perf_counter() - t0)
        rss = peak_rss_mb(server.pid)
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        load_seconds = next(
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("asr_model_load_seconds ")
        )
    finally:
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(60)

    http_p50, local_p50 = statistics.median(http_times), statistics.median(local_times)
    print(f"machine load (1/5/15 min): {os.getloadavg()}")
    print(f"rounds: {args.rounds}, jfk.flac 11 s, whisper-tiny.en, concurrency 1")
    for name, p50, times in (
        ("in-process", local_p50, local_times),
        ("HTTP", http_p50, http_times),
    ):
        p95 = percentile(times, 0.95)
        print(f"{name:<11} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms")
    print(f"HTTP / in-process p50 ratio: {http_p50 / local_p50:.3f}  (target <= 1.10)")
    print(f"serving process peak RSS: {rss:.0f} MB  (target < 600 MB)")
    print(
        f"start to /readyz 200: {start_to_ready:.2f} s  (target < 3 s; "
        f"of which model load {load_seconds:.2f} s; the process used {ready_cpu:.2f} s of CPU "
        "by then: roughly the start time on an idle machine)"
    )
    print(f"server exit code after SIGTERM: {exit_code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
