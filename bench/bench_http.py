"""HTTP side of bench/peer_throughput.py: start a server, drive closed-loop clients."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.text import word_error_rate


@dataclass
class Server:
    url: str = ""
    reason: str = ""
    """Why the server could not be run (empty when it runs)."""
    pid: int = 0
    """The server's process (for its RSS)."""


@dataclass
class HttpRun:
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    wers: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p95(self) -> float:
        if len(self.latencies) < 2:
            return self.p50
        return statistics.quantiles(self.latencies, n=20, method="inclusive")[18]

    def summary(self) -> str:
        wer = (
            f"WER mean {statistics.mean(self.wers):.3f} max {max(self.wers):.3f}"
            if self.wers
            else "no WER"
        )
        errors = f"  {len(self.errors)} errors ({self.errors[0]})" if self.errors else ""
        return (
            f"{self.rps:5.2f} req/s  {self.rps * 11.0:6.1f} audio s/s  "
            f"p50 {self.p50:5.2f}s  p95 {self.p95:5.2f}s  {wer}  n={len(self.latencies)}{errors}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post_file(url: str, path: Path, *, timeout: float = 300, model_field: str = "model") -> str:
    with path.open("rb") as fh:
        response = requests.post(
            f"{url}/v1/audio/transcriptions",
            files={"file": (path.name, fh)},
            data={model_field: "whisper-1", "temperature": "0", "response_format": "json"},
            timeout=timeout,
        )
    response.raise_for_status()
    return str(response.json()["text"])


def closed_loop(
    url: str,
    path: Path,
    reference: str,
    concurrency: int,
    requests_per_level: int,
    *,
    model_field: str = "model",
) -> HttpRun:
    """`concurrency` clients, each sending its next request as soon as the last returns."""
    total = requests_per_level or max(8, 3 * concurrency)
    post_file(url, path, model_field=model_field)  # warm-up (lazy model loads, caches)
    run = HttpRun(concurrency, 0.0)
    remaining = iter(range(total))

    def client() -> None:
        for _ in remaining:
            started = time.perf_counter()
            try:
                text = post_file(url, path, model_field=model_field)
            except Exception as exc:  # count it, keep the loop closed
                run.errors.append(str(exc)[:120])
                continue
            run.latencies.append(time.perf_counter() - started)
            run.wers.append(word_error_rate(reference, text))

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    run.seconds = time.perf_counter() - started
    return run


def cache_hits(url: str) -> float:
    """asr_cache_hits_total of our server: must stay 0 (the cache is off) for honest figures."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("asr_cache_hits_total")
    )


@contextmanager
def _process(
    cmd: list[str], env: dict[str, str], ready_url: str, timeout: float
) -> Iterator[Server]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally, after the process)
    try:
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    except OSError as exc:
        yield Server(reason=f"cannot start {cmd[0]}: {exc}")
        return
    base = ready_url.rsplit("/", 1)[0]
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                yield Server(reason=f"exited with {process.returncode}: {' | '.join(tail)}")
                return
            try:
                if requests.get(ready_url, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                yield Server(reason=f"not ready after {timeout:.0f}s")
                return
            time.sleep(0.5)
        yield Server(url=base, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def our_server(
    repo: Path, model_dir: str, batch_size: int, settings: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """`asr-server serve` with the result cache off; `settings`: more ASR_* variables (e.g.
    ASR_ENCODER_CONTEXT, ASR_CPU_LAYOUT), winning over the caller's environment."""
    executable = repo / ".venv" / "bin" / "asr-server"
    port = free_port()
    env = {
        **os.environ,
        "ASR_MODEL": model_dir,
        "ASR_DEVICE": "cpu",
        "ASR_COMPUTE_TYPE": "int8",
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(port),
        "ASR_BATCH_MAX_SIZE": str(batch_size),
        "ASR_MAX_QUEUE": "256",
        "ASR_MAX_AUDIO_SECONDS": "1200",
        "ASR_MAX_BODY_MB": "64",
        "ASR_REQUEST_TIMEOUT_S": "1800",
        "ASR_CACHE_ENTRIES": "0",  # a result cache would make repeated clips free
        "HF_HUB_OFFLINE": "1",
        **(settings or {}),
    }
    with _process(
        [str(executable), "serve"], env, f"http://127.0.0.1:{port}/readyz", 180
    ) as server:
        yield server


@contextmanager
def peer_server(repo: Path, model_dir: str) -> Iterator[Server]:
    venv = repo / "bench" / ".venv-peer"
    if not (venv / "bin" / "faster-whisper-server").exists():
        setup = subprocess.run(
            ["bash", str(repo / "bench" / "peer_setup.sh")], capture_output=True, text=True
        )
        if setup.returncode != 0:
            yield Server(reason=f"bench/peer_setup.sh failed: {setup.stderr.strip()[-200:]}")
            return
    port = free_port()
    config = repo / "bench" / "results" / "peer.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    # Same model, same work as ours: tiny.en int8 on CPU, greedy, same thread count.
    config.write_text(
        "batch_size: 1\n"
        "models:\n"
        "  - name: whisper-1\n"
        f"    path: {model_dir}\n"
        "    model_options: {device: cpu, compute_type: int8, "
        f"cpu_threads: {os.cpu_count() or 2}}}\n"
        "    transcribe_options: {beam_size: 1, temperature: 0.0}\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [
        str(venv / "bin" / "faster-whisper-server"),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with _process(cmd, env, f"http://127.0.0.1:{port}/health", 120) as server:
        yield server
